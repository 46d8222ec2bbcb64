"""From anomalous points to a few incidents: change events, correlation with root cause and
annotations, and the noise funnel."""

import dagster as dg

from ops_pipelines.defs.partitions import PREVIOUS_DAY, daily_partitions
from ops_pipelines.resources.aiops_config import AIOpsConfig
from ops_pipelines.resources.state_store import StateStore, state_check_spec

CONTEXT = "incidents"  # state-store folder of the context correlation carries from day to day

# What lib.aiops.incidents.log_events reads of log_anomalies: the raw message and the verdict's reason, most of a
# day's bytes, stay on disk (tests/defs/test_incidents_assets.py checks the events are those of every column).
LOG_EVENT_INPUTS = ["timestamp", "service", "template_id", "template", "level", "score", "is_anomaly", "in_burst"]

# Yesterday's anomalies too: an incident that runs across midnight stays one incident.
TWO_DAYS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)


@dg.asset(partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"], kinds={"pandas", "parquet"})
def platform_changes(change_events, service_logs, aiops_config: AIOpsConfig):
    """Every change of the day: deploys, config changes and job runs from the `changes` landing kind
    and from service log lines that match the change patterns (assets/aiops/change_patterns.json).
    Incidents use them to tell a change's impact from a fault."""
    from ops_pipelines.lib.aiops.daily import day_changes

    found = day_changes(change_events, service_logs, aiops_config.change_patterns())
    counts = found.groupby(["kind", "source"]).size() if len(found) else {}
    return dg.Output(found, metadata={
        "dagster/row_count": len(found),
        **{f"{kind}/{source}": int(n) for (kind, source), n in dict(counts).items()},
    })


@dg.multi_asset(
    name="correlate_incidents",
    outs={
        "incidents": dg.AssetOut(
            group_name="aiops", owners=["team:aiops"], kinds={"pandas", "parquet"},
            description="Incidents of the day: correlated anomalies across metrics, log bursts and services with start, "
            "end, severity, affected services, ranked root-cause candidates with evidence (including the change that "
            "preceded a bad deploy) and a suggested action."),
        "anomaly_annotations": dg.AssetOut(
            group_name="aiops", owners=["team:aiops"], kinds={"pandas", "parquet"},
            description="Movement that is not an incident, and why: a change's local impact, a scheduled job, a pattern "
            "that recurs at this time of day, a series still warming up, or a traffic event (traffic rising on most "
            "services at once without errors)."),
    },
    partitions_def=daily_partitions,
    ins={
        "metric_anomalies": dg.AssetIn(partition_mapping=TWO_DAYS),
        "log_anomalies": dg.AssetIn(partition_mapping=TWO_DAYS, metadata={"columns": LOG_EVENT_INPUTS}),
        "service_logs": dg.AssetIn(partition_mapping=TWO_DAYS),
        "platform_changes": dg.AssetIn(partition_mapping=TWO_DAYS),
        # Not read: it makes Dagster run the days in order, as the carried context needs.
        "previous_incidents": dg.AssetIn("incidents", partition_mapping=PREVIOUS_DAY),
    },
    check_specs=[state_check_spec(CONTEXT)],
)
def incidents(context: dg.AssetExecutionContext, metric_anomalies, log_anomalies, service_logs, platform_changes,
              previous_incidents, aiops_config: AIOpsConfig, state_store: StateStore):
    """Correlate the anomalies of yesterday and today, continuing from the context (first-seen times,
    last week's episodes and job runs) the previous day left in the state store."""
    from ops_pipelines.lib.aiops.context import IncidentContext
    from ops_pipelines.lib.aiops.daily import correlate_day

    day = context.partition_key
    previous = state_store.previous(context, CONTEXT)
    found, following = correlate_day(
        day, metric_anomalies, log_anomalies, service_logs, _changes(platform_changes), aiops_config.topology(),
        aiops_config.runbooks(), aiops_config.change_patterns(),
        IncidentContext.load(previous) if previous is not None else None)
    following.save(state_store.path(CONTEXT, day))
    state_store.record(CONTEXT, day, {CONTEXT: previous})
    notes = found.annotations
    yield dg.Output(found.incidents, output_name="incidents", metadata={
        "dagster/row_count": len(found.incidents),
        "incidents": len(found.incidents),
        "critical": int((found.incidents["severity"] == "critical").sum()),
        "incidents_table": dg.MetadataValue.md(incident_table(found.incidents)),
        "context_from": previous.stem if previous is not None else "cold start",
    })
    yield dg.Output(notes, output_name="anomaly_annotations", metadata={
        "dagster/row_count": len(notes),
        **{f"kind/{k}": int(n) for k, n in notes["kind"].value_counts().sort_index().items()},
        "annotations_table": dg.MetadataValue.md(annotation_table(notes)),
    })
    yield state_store.state_check(context, CONTEXT)


def _changes(frame):
    """The stored changes of two days (an empty frame when none were stored)."""
    from ops_pipelines.lib.aiops.changes import CHANGE_COLUMNS, combine

    return combine(frame) if frame is not None and len(frame) and set(CHANGE_COLUMNS) <= set(frame.columns) else combine()


@dg.asset(partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"], kinds={"pandas"},
          ins={"log_anomalies": dg.AssetIn(metadata={"columns": LOG_EVENT_INPUTS})})
def alert_noise_report(metric_anomalies, log_anomalies, incidents):
    """How much noise the correlation removes: anomalous points -> alerts (one per series episode,
    single-point blips suppressed) -> incidents, with the compression ratio plotted over time."""
    import pandas as pd

    from ops_pipelines.lib.aiops.incidents import alerts, all_events
    from ops_pipelines.lib.aiops.rollups import noise_funnel
    from ops_pipelines.lib.tidy_metadata import tidy

    events = all_events(metric_anomalies, log_anomalies)
    funnel = noise_funnel(len(events), len(alerts(events)), len(incidents))
    return dg.Output(pd.DataFrame([funnel]), metadata=tidy({k: float(v) if isinstance(v, float) else int(v) for k, v in funnel.items()}))


def incident_table(found) -> str:
    from ops_pipelines.lib.markdown import table

    rows = [[f"{r.start:%Y-%m-%d %H:%M}", f"{r.end:%H:%M}", r.severity, r.root_cause, ", ".join(r.affected_services),
             r.suggested_action] for r in found.itertuples()]
    return table(["start (UTC)", "end", "severity", "root cause", "affected", "suggested action"], rows,
                 bold=["root cause"], empty="No incidents.")


def annotation_table(notes) -> str:
    from ops_pipelines.lib.markdown import table

    rows = [[f"{r.start:%Y-%m-%d %H:%M}", f"{r.end:%H:%M}", r.kind, ", ".join(r.services), r.reason] for r in notes.itertuples()]
    return table(["start (UTC)", "end", "kind", "services", "why"], rows, empty="Nothing annotated.")
