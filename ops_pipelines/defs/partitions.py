"""The one daily partitions definition every time-based asset uses (UTC days)."""

import datetime as dt
import os

import dagster as dg


def _daily_range() -> tuple[str, str | None]:
    # Where the data is, read at load (a folder listing): the UI shows the days that exist, not years of empty
    # partitions. OPS_PIPELINES_PARTITION_START / _END override it (docs/platform.md#daily-partitions).
    from ops_pipelines import settings
    from ops_pipelines.lib.partition_range import partition_range

    return partition_range(settings.landing_dir(), os.environ, fallback_start=SAMPLE_WORLD_START)


SAMPLE_WORLD_START = dt.date(2026, 3, 2)  # the sample world's first day (lib/sim): the start of an empty landing zone
_start, _end = _daily_range()
daily_partitions = dg.DailyPartitionsDefinition(start_date=_start, end_date=_end)
# The day before: how an asset that carries state from day to day reads its own yesterday.
PREVIOUS_DAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


def _model_names() -> list[str]:
    # Read at load: the config is a small JSON file and the import is stdlib only.
    from ops_pipelines.lib.mlops.config import load_models

    return [spec.name for spec in load_models()]


# Training runs per (as-of day, model): the UI shows each model's retraining history on its own row.
model_partitions = dg.StaticPartitionsDefinition(_model_names())
training_partitions = dg.MultiPartitionsDefinition({"date": daily_partitions, "model": model_partitions})
