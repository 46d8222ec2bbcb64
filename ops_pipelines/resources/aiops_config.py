"""AIOps knowledge from config: the service dependency graph, the runbook map and change-log patterns."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.settings import ASSETS_DIR


class AIOpsConfig(dg.ConfigurableResource):
    """Paths to the topology (calls and service kinds), runbook rules and change-log patterns; defaults are
    the sample world's."""

    topology_path: str = Field(default=str(ASSETS_DIR / "aiops" / "topology.json"))
    runbooks_path: str = Field(default=str(ASSETS_DIR / "aiops" / "runbooks.json"))
    change_patterns_path: str = Field(default=str(ASSETS_DIR / "aiops" / "change_patterns.json"))

    def topology(self):
        from ops_pipelines.lib.aiops.topology import Topology

        return Topology.load(Path(self.topology_path))

    def change_patterns(self):
        from ops_pipelines.lib.aiops.changes import ChangePatterns

        return ChangePatterns.load(Path(self.change_patterns_path))

    def runbooks(self) -> list[dict]:
        from ops_pipelines.lib.aiops.incidents import load_runbooks

        return load_runbooks(Path(self.runbooks_path))
