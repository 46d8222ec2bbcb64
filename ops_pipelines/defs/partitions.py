"""The one daily partitions definition every time-based asset uses (UTC days)."""

import os

import dagster as dg

# Start early enough for users' history; OPS_PIPELINES_PARTITION_START moves it.
daily_partitions = dg.DailyPartitionsDefinition(start_date=os.environ.get("OPS_PIPELINES_PARTITION_START", "2024-01-01"))
