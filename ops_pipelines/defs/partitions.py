"""The one daily partitions definition every time-based asset uses (UTC days)."""

import os

import dagster as dg

# Start early enough for users' history; OPS_PIPELINES_PARTITION_START moves it.
daily_partitions = dg.DailyPartitionsDefinition(start_date=os.environ.get("OPS_PIPELINES_PARTITION_START", "2024-01-01"))


def _model_names() -> list[str]:
    # Read at load: the config is a small JSON file and the import is stdlib only.
    from ops_pipelines.lib.mlops.config import load_models

    return [spec.name for spec in load_models()]


# Training runs per (as-of day, model): the UI shows each model's retraining history on its own row.
model_partitions = dg.StaticPartitionsDefinition(_model_names())
training_partitions = dg.MultiPartitionsDefinition({"date": daily_partitions, "model": model_partitions})
