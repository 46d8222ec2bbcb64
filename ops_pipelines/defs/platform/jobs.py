"""The job that runs one day through the whole graph (the demo and the nightly schedule use it)."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="One UTC day through the whole asset graph, ingestion first.",
)
