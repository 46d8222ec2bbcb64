"""The one place resource instances are registered."""

import dagster as dg

from ops_pipelines import settings
from ops_pipelines.io.parquet import ParquetIOManager, StoredPartitions
from ops_pipelines.resources.aiops_config import AIOpsConfig
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig
from ops_pipelines.resources.model_registry import ModelRegistry
from ops_pipelines.resources.state_store import StateStore


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "io_manager": ParquetIOManager(base_dir=str(settings.storage_dir())),
            "landing_zone": LandingZone(root=str(settings.landing_dir())),
            "state_store": StateStore(root=str(settings.data_home() / "state")),
            "aiops_config": AIOpsConfig(),
            "llmops_config": LLMOpsConfig(),
            "llm_judge": LLMJudge.from_env(),
            "model_registry": ModelRegistry(home=str(settings.data_home())),
            "dataset_store": DatasetStore(home=str(settings.data_home())),
            "stored_partitions": StoredPartitions(base_dir=str(settings.storage_dir())),
        }
    )
