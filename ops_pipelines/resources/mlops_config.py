"""MLOps config: the monitored models, where dataset versions live, and the MLflow store."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.lib.mlops.config import models_file


class MLOpsConfig(dg.ConfigurableResource):
    """Defaults keep everything under the data home: `datasets/`, `mlflow/` (SQLite + artifacts), `reports/`.
    `OPS_MLFLOW_TRACKING_URI` points MLflow at another backend (e.g. the production Postgres server).
    The registry store must have been created by `ops-pipelines init`: runs never create one."""

    models_path: str = Field(default_factory=lambda: str(models_file()),
                             description="The monitored models; default $OPS_PIPELINES_MODELS or assets/mlops/models.json.")
    home: str = Field(description="The data home (OPS_PIPELINES_HOME).")
    storage_dir: str = Field(description="The Parquet IO manager's base folder, to read windows of source partitions.")
    tracking_uri: str | None = Field(default=None, description="MLflow tracking URI; default SQLite under the data home.")

    def models(self):
        from ops_pipelines.lib.mlops.config import load_models

        return load_models(Path(self.models_path))

    def spec(self, name: str):
        from ops_pipelines.lib.mlops.config import model_spec

        return model_spec(name, Path(self.models_path))

    def datasets(self):
        from ops_pipelines.lib.mlops.datasets import DatasetStore

        return DatasetStore(Path(self.home) / "datasets")

    def read(self, asset: str, days: list[str]):
        """Stored daily partitions of an asset (training windows span several days)."""
        from ops_pipelines.io.parquet import read_partitions

        return read_partitions(self.storage_dir, asset, days)

    def read_training_outputs(self, asset: str, until: str):
        """Every stored (day, model) partition of a retraining asset with day <= `until`."""
        import pandas as pd

        folder = Path(self.storage_dir, asset)
        parts = sorted(p for p in folder.glob("*|*.parquet") if p.stem.split("|", 1)[0] <= until) if folder.is_dir() else []
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()

    def available_days(self, asset: str, days: list[str]) -> list[str]:
        from ops_pipelines.io.parquet import partition_path

        return [d for d in days if partition_path(self.storage_dir, asset, d).exists()]

    def reports_dir(self) -> Path:
        return Path(self.home) / "reports"

    def mlflow_client(self):
        """A client on the home's registry store; RegistryStoreError when the store is missing, was
        re-created empty or is another home's (`ops-pipelines init` creates it; nothing else does)."""
        from ops_pipelines.lib.mlops.registry_store import RegistryLocation, open_registry

        return open_registry(RegistryLocation.of_home(self.home, self.tracking_uri))
