"""From anomalous points to a few incidents: rollups, correlation with root cause, and the noise funnel."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.resources.aiops_config import AIOpsConfig

# Yesterday's anomalies too: an incident that runs across midnight stays one incident.
TWO_DAYS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)


@dg.asset(partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"], kinds={"pandas", "parquet"})
def anomaly_rollups(metric_anomalies):
    """Per service, metric and hour (and per day): points, anomalies, max and mean score, first and
    last anomalous time. The place to see which signals were noisy when."""
    from ops_pipelines.lib.aiops.rollups import rollup

    out = rollup(metric_anomalies)
    hourly = out[out["granularity"] == "hour"]
    return dg.Output(out, metadata={
        "dagster/row_count": len(out),
        "anomalous_hours": int((hourly["anomalies"] > 0).sum()),
        "anomalies": int(out.loc[out["granularity"] == "day", "anomalies"].sum()),
    })


@dg.asset(
    partitions_def=daily_partitions,
    group_name="aiops", owners=["team:aiops"],
    kinds={"pandas", "parquet"},
    ins={
        "metric_anomalies": dg.AssetIn(partition_mapping=TWO_DAYS),
        "log_anomalies": dg.AssetIn(partition_mapping=TWO_DAYS),
    },
)
def incidents(context: dg.AssetExecutionContext, metric_anomalies, log_anomalies, aiops_config: AIOpsConfig):
    """Incidents of the day: correlated anomalies across metrics, log bursts and services with start,
    end, severity, affected services, ranked root-cause candidates with evidence and a suggested action."""
    import pandas as pd

    from ops_pipelines.lib.aiops.incidents import all_events, build_incidents

    day_start = pd.Timestamp(context.partition_key, tz="UTC")
    found = build_incidents(all_events(metric_anomalies, log_anomalies), aiops_config.topology(), aiops_config.runbooks())
    found = found[found["end"] >= day_start].reset_index(drop=True)  # those that ended yesterday were reported then
    return dg.Output(found, metadata={
        "dagster/row_count": len(found),
        "incidents": len(found),
        "critical": int((found["severity"] == "critical").sum()),
        "incidents_table": dg.MetadataValue.md(incident_table(found)),
    })


@dg.asset(partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"], kinds={"pandas"})
def alert_noise_report(metric_anomalies, log_anomalies, incidents):
    """How much noise the correlation removes: anomalous points -> alerts (one per series episode,
    single-point blips suppressed) -> incidents, with the compression ratio plotted over time."""
    import pandas as pd

    from ops_pipelines.lib.aiops.incidents import alerts, all_events
    from ops_pipelines.lib.aiops.rollups import noise_funnel

    events = all_events(metric_anomalies, log_anomalies)
    funnel = noise_funnel(len(events), len(alerts(events)), len(incidents))
    return dg.Output(pd.DataFrame([funnel]), metadata={k: float(v) if isinstance(v, float) else int(v) for k, v in funnel.items()})


def incident_table(found) -> str:
    if found.empty:
        return "No incidents."
    lines = ["| start (UTC) | end | severity | root cause | affected | suggested action |", "|---|---|---|---|---|---|"]
    for row in found.itertuples():
        lines.append(
            f"| {row.start:%Y-%m-%d %H:%M} | {row.end:%H:%M} | {row.severity} | **{row.root_cause}** | "
            f"{', '.join(row.affected_services)} | {row.suggested_action} |"
        )
    return "\n".join(lines)
