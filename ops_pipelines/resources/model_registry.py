"""The model registry: the monitored models' specs, their MLflow registry and their monitoring reports."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.lib.mlops.config import models_file


class ModelRegistry(dg.ConfigurableResource):
    """Defaults keep everything under the data home: `mlflow/` (SQLite + artifacts) and `reports/`.
    `OPS_MLFLOW_TRACKING_URI` points MLflow at another backend (e.g. the production Postgres server).
    The registry store must have been created by `ops-pipelines init`: runs never create one."""

    models_path: str = Field(default_factory=lambda: str(models_file()),
                             description="The monitored models; default $OPS_PIPELINES_MODELS or assets/mlops/models.json.")
    home: str = Field(description="The data home (OPS_PIPELINES_HOME).")
    tracking_uri: str | None = Field(default=None, description="MLflow tracking URI; default SQLite under the data home.")

    def models(self):
        from ops_pipelines.lib.mlops.config import load_models

        return load_models(Path(self.models_path))

    def spec(self, name: str):
        from ops_pipelines.lib.mlops.config import model_spec

        return model_spec(name, Path(self.models_path))

    def client(self):
        """A client on the home's registry store; RegistryStoreError when the store is missing, was
        re-created empty or is another home's (`ops-pipelines init` creates it; nothing else does)."""
        from ops_pipelines.lib.mlops.registry_store import RegistryLocation, open_registry

        return open_registry(RegistryLocation.of_home(self.home, self.tracking_uri))

    def load(self, model: str, version: int | str):
        """The fitted pipeline of a registered version of a configured model (skops, trusted types from code)."""
        from ops_pipelines.lib.mlops.registry import load_version

        return load_version(self.client(), self.spec(model).registered_name, version)

    def reports_dir(self) -> Path:
        """Where the monitoring reports of the registered models go (drift HTML per day and model)."""
        return Path(self.home) / "reports"
