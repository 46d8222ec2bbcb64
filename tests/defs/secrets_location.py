"""A code location for tests/test_secrets_never_stored.py, loaded by a real dagster-daemon: the real
`llm_traces` and `llm_eval_scores` (judge on; endpoint, model and key from the environment), an asset
after them that always fails, and the real run-failure sensor body ticking every second (the
registered sensor ticks every 30 s)."""

import dagster as dg

from ops_pipelines import settings
from ops_pipelines.defs.llmops.evaluation import llm_eval_scores
from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.platform.alerts import record_run_failure
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig


@dg.asset(partitions_def=daily_partitions, deps=[llm_eval_scores])
def judged_summary() -> None:
    raise RuntimeError("the judged traces could not be summarised")


defs = dg.Definitions(
    assets=[llm_traces, llm_eval_scores, judged_summary],
    jobs=[dg.define_asset_job("judged_job", selection=["llm_traces", "llm_traces_quarantine", "llm_eval_scores",
                                                       "judged_summary"],
                              partitions_def=daily_partitions, executor_def=dg.in_process_executor)],
    sensors=[dg.run_failure_sensor(name="run_failure_sensor", minimum_interval_seconds=1,
                                   default_status=dg.DefaultSensorStatus.RUNNING)(record_run_failure)],
    resources={
        "landing_zone": LandingZone(root=str(settings.landing_dir())),
        "io_manager": ParquetIOManager(base_dir=str(settings.storage_dir())),
        "llmops_config": LLMOpsConfig(),
        "llm_judge": LLMJudge(enabled=True, max_retries=1, backoff_s=0.0),
    },
)
