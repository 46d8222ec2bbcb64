"""The job that runs one day through the whole graph (the demo and the nightly schedule use it)."""

import dagster as dg

from ops_pipelines.defs.executors import daily_executor
from ops_pipelines.defs.mlops.training import TRAINING_ASSETS
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.platform.freshness import FRESHNESS_CHECKS

# Everything daily; retraining runs per (day, model) and is launched by the retraining sensor; freshness checks
# are the freshness sensor's.
DAILY_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets(*TRAINING_ASSETS) - FRESHNESS_CHECKS

daily_job = dg.define_asset_job(
    "daily_job",
    selection=DAILY_SELECTION,
    partitions_def=daily_partitions,
    # One process per run: the steps share their imports (pandas, sklearn, MLflow, Evidently), which
    # costs more than the parallelism two cores could give.
    executor_def=daily_executor(dg.in_process_executor),  # OPS_PIPELINES_EXECUTOR overrides (executors.py)
    description="One UTC day through the whole asset graph, ingestion first.",
)
