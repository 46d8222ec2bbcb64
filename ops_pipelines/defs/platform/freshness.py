"""Freshness: each daily asset's yesterday's partition must exist by 06:00 UTC (OPS_PIPELINES_FRESHNESS_HOUR).

One `freshness_check` per daily asset (shown on its Checks tab, warning severity) and the sensor that
evaluates them as deadlines pass and as partitions land."""

import os

import dagster as dg

from ops_pipelines.factories.ingestion import INGESTION_ASSETS
from ops_pipelines.lib.platform.freshness import deadline_cron, deadline_hour

# What people read each morning, and what it is made from (every landing-zone kind).
WATCHED = [*INGESTION_ASSETS.values(), "metric_anomalies", "incidents", "llm_quality_daily", "drift_report",
           "ops_health_report"]
HOUR = deadline_hour(dict(os.environ))  # deployment config, read once at load

freshness_checks = dg.build_time_partition_freshness_checks(assets=WATCHED, deadline_cron=deadline_cron(HOUR), timezone="UTC")

freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks, name="freshness_checks_sensor", minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)

# Evaluated by the sensor only: a run that writes an older day (the demo, a backfill) is no news about freshness.
FRESHNESS_CHECKS = dg.AssetSelection.checks(*freshness_checks)
