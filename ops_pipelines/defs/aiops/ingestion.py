"""AIOps inputs: service metrics, logs and change events from the landing zone."""

from ops_pipelines.factories.ingestion import ingestion_asset
from ops_pipelines.settings import shard_count

telemetry_metrics = ingestion_asset(
    "metrics",
    group="aiops",
    description="Service metrics at their native resolution, one row per series and timestamp (UTC), "
    "from long CSV/Parquet, single-series CSV or Prometheus query_range JSON.",
    shards=shard_count(),  # like metric_anomalies: every process must see the same OPS_PIPELINES_SHARDS
)
service_logs = ingestion_asset(
    "logs",
    group="aiops",
    description="Service log lines (UTC timestamp, service, host, level, message) from JSON lines or plain-text logs.",
)
change_events = ingestion_asset(
    "changes",
    group="aiops",
    description="Changes made to the platform (UTC timestamp, service, kind: deploy, config, job, ...; detail) as "
    "exported by CD, config-management or scheduler tools, from JSON lines or CSV.",
)
