"""Telemetry as model features: the link from AIOps data to a model the MLOps side trains and watches."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions


@dg.asset(
    partitions_def=daily_partitions,
    group_name="mlops", owners=["team:mlops"],
    kinds={"pandas", "parquet"},
    # Yesterday's last hour is the baseline of today's first features.
    ins={"telemetry_metrics": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0))},
)
def incident_risk_features(context: dg.AssetExecutionContext, telemetry_metrics, incidents):
    """Per service and 5 minutes: CPU, memory, p95 latency, errors, traffic and their change against the
    previous hour, labeled with whether the service is in an incident within the next 30 minutes."""
    import pandas as pd

    from ops_pipelines.lib.mlops.telemetry_features import (
        incident_risk_features as build,
    )

    out = build(telemetry_metrics, incidents, pd.Timestamp(context.partition_key, tz="UTC"))
    positives = int(out["incident_within_30m"].sum()) if len(out) else 0
    return dg.Output(out, metadata={"dagster/row_count": len(out), "services": int(out["service"].nunique()) if len(out) else 0,
                                    "positive_rows": positives})
