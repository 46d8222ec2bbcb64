"""Nightly: yesterday's partition through the whole graph, at 02:00 UTC unless configured."""

import os

import dagster as dg

from ops_pipelines.defs.platform.jobs import daily_job

# The hour is deployment config, read once at load: OPS_PIPELINES_NIGHTLY_HOUR (0-23, UTC).
NIGHTLY_HOUR = int(os.environ.get("OPS_PIPELINES_NIGHTLY_HOUR", "2"))

nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    name="nightly_schedule",
    hour_of_day=NIGHTLY_HOUR,
    minute_of_hour=0,
    description="Runs the previous UTC day through the whole asset graph.",
)
