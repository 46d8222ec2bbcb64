"""Log templates and log anomalies, with the miner and detector state carried day to day."""

import dagster as dg

from ops_pipelines.defs.partitions import PREVIOUS_DAY, daily_partitions
from ops_pipelines.resources.state_store import StateStore, state_check_spec

TEMPLATES = "log_templates"
ANOMALIES = "log_anomalies"


@dg.asset(
    name=TEMPLATES,
    partitions_def=daily_partitions,
    group_name="aiops", owners=["team:aiops"],
    kinds={"pandas", "parquet"},
    deps=[dg.AssetDep(TEMPLATES, partition_mapping=PREVIOUS_DAY)],
    check_specs=[state_check_spec(TEMPLATES)],
)
def log_templates(context: dg.AssetExecutionContext, service_logs, state_store: StateStore):
    """The log templates seen this day (variable fields masked), with ids that stay the same from
    day to day: text, level, services, line count and when each template was first seen."""
    from ops_pipelines.lib.aiops.log_templates import daily_templates, mine_logs_from, save_miner

    day = context.partition_key
    previous = state_store.previous(context, TEMPLATES)
    mined, miner = mine_logs_from(service_logs, previous)
    save_miner(miner, state_store.path(TEMPLATES, day))
    state_store.record(TEMPLATES, day, {TEMPLATES: previous})
    table = daily_templates(mined)
    new = table[table["is_new"]]
    yield dg.Output(
        table,
        metadata={
            "dagster/row_count": len(table),
            "templates_seen": len(table),
            "new_templates": len(new),
            "templates_known": len(mined.templates),
            "lines_mined": len(mined.lines),
            "lines_skipped": mined.skipped,
            "state_from": previous.stem if previous is not None else "cold start",
            "new_template_list": dg.MetadataValue.md(_table(new, ["template_id", "level", "count", "template"])),
        },
    )
    yield state_store.state_check(context, TEMPLATES)


@dg.asset(
    name=ANOMALIES,
    partitions_def=daily_partitions,
    group_name="aiops", owners=["team:aiops"],
    kinds={"pandas", "parquet"},
    deps=[TEMPLATES, dg.AssetDep(ANOMALIES, partition_mapping=PREVIOUS_DAY)],
    check_specs=[state_check_spec(ANOMALIES)],
)
def log_anomalies(context: dg.AssetExecutionContext, service_logs, state_store: StateStore):
    """One row per log line: its template, and whether it is an alert and why. A CRITICAL line is an
    alert at any rate (dump fields and caller errors aside); a WARN or ERROR line alerts when its
    template bursts far above its own learned rate; INFO and DEBUG lines never alert on their own."""
    from ops_pipelines.lib.aiops.log_templates import mine_logs_from
    from ops_pipelines.lib.aiops.logs import (
        load_detector_state,
        save_detector_state,
        score_logs,
    )

    day = context.partition_key
    # Mined from log_templates' previous-day state: the same input and state give its exact ids (and in the
    # same run, its very result: mined once).
    miner = state_store.latest_before(TEMPLATES, day)
    mined, _ = mine_logs_from(service_logs, miner)
    previous = state_store.previous(context, ANOMALIES)
    scored, state = score_logs(mined, load_detector_state(previous) if previous is not None else None)
    save_detector_state(state, state_store.path(ANOMALIES, day))
    state_store.record(ANOMALIES, day, {ANOMALIES: previous, TEMPLATES: miner})
    alerts = scored[scored["is_anomaly"]]
    top = alerts.sort_values(["score", "count", "timestamp"], ascending=[False, False, True]).head(10)
    yield dg.Output(
        scored,
        metadata={
            "dagster/row_count": len(scored),
            "alerts": len(alerts),
            "critical_alerts": int((alerts["kind"] == "critical").sum()),
            "burst_alerts": int((alerts["kind"] == "burst").sum()),
            "lines_in_bursts": int(scored["in_burst"].sum()),
            "dump_fields": int((scored["kind"] == "dump_field").sum()),
            "alerting_templates": int(alerts["template_id"].nunique()),
            "alerting_services": int(alerts["service"].nunique()),
            "lines_skipped": mined.skipped,
            "state_from": previous.stem if previous is not None else "cold start",
            "top_alerts": dg.MetadataValue.md(
                _table(top, ["timestamp", "service", "kind", "level", "count", "baseline", "reason", "template"])),
        },
    )
    yield state_store.state_check(context, ANOMALIES)


def _table(frame, columns: list[str]) -> str:
    if frame.empty:
        return "none"

    from ops_pipelines.lib.markdown import table

    rows = [[f"{v:.2f}" if isinstance(v, float) else v for v in row] for row in frame[columns].itertuples(index=False)]
    # Code spans: a template reads as the log line it matches, masks like <NUM> included.
    return table(columns, rows, code=["template", "reason"])
