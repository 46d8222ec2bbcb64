"""The dataset store: immutable, content-addressed training dataset versions with their lineage."""

from pathlib import Path

import dagster as dg
from pydantic import Field


class DatasetStore(dg.ConfigurableResource):
    """Dataset versions under `<data home>/datasets` (`lib/mlops/datasets.py` has the layout); a version
    is never overwritten, so any model version can be traced back to the rows it was trained on."""

    home: str = Field(description="The data home (OPS_PIPELINES_HOME).")

    def store(self):
        from ops_pipelines.lib.mlops.datasets import DatasetStore as VersionStore

        return VersionStore(Path(self.home) / "datasets")

    def write(self, model: str, rows, lineage: dict):
        """Store the rows as a version (or return the existing one with the same content)."""
        return self.store().write(model, rows, lineage)

    def get(self, model: str, version: str):
        return self.store().get(model, version)

    def load(self, model: str, version: str):
        return self.store().load(model, version)
