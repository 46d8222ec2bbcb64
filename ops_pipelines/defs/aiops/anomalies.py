"""Per-point anomaly scores for every metric series, with detector state carried day to day."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.resources.state_store import StateStore, state_check_spec

ASSET = "metric_anomalies"


@dg.asset(
    name=ASSET,
    partitions_def=daily_partitions,
    group_name="aiops", owners=["team:aiops"],
    kinds={"pandas", "parquet"},
    # The previous day's detector state is an input: Dagster runs the days in order.
    deps=[dg.AssetDep(ASSET, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))],
    check_specs=[state_check_spec(ASSET)],
)
def metric_anomalies(
    context: dg.AssetExecutionContext, telemetry_metrics, llm_kpi_series, pipeline_run_telemetry, state_store: StateStore
):
    """Every metric point, infrastructure, LLM KPIs and our own pipeline runs alike, with an anomaly
    score in [0, 1] and a flag (score >= 0.5): causal, seasonal (day and week), robust to spikes,
    adapting to persistent level shifts; one default sensitivity."""
    import pandas as pd

    from ops_pipelines import settings
    from ops_pipelines.lib.aiops.anomalies import score_metrics
    from ops_pipelines.lib.aiops.state_store import load_state, save_state
    from ops_pipelines.lib.markdown import table as md_table

    settings.use_compiled_cache()
    day = context.partition_key
    previous = state_store.previous(context, ASSET)
    state = load_state(previous) if previous is not None else None
    frames = [f for f in (telemetry_metrics, llm_kpi_series, pipeline_run_telemetry) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else telemetry_metrics
    scored, state = score_metrics(rows, state)
    save_state(state, state_store.path(ASSET, day))
    state_store.record(ASSET, day, {ASSET: previous})
    flagged = scored[scored["is_anomaly"]]
    top = flagged.groupby(["service", "metric"], observed=True).size().sort_values(ascending=False).head(10)
    table = md_table(["service", "metric", "anomalous points"], [[s, m, n] for (s, m), n in top.items()])
    yield dg.Output(
        scored,
        metadata={
            "dagster/row_count": len(scored),
            "anomalous_points": len(flagged),
            "anomaly_rate": float(len(flagged) / len(scored)) if len(scored) else 0.0,
            "series": int(scored.groupby(["service", "metric", "host"], observed=True).ngroups) if len(scored) else 0,
            "state_from": previous.stem if previous is not None else "cold start",
            "top_series": dg.MetadataValue.md(table if len(top) else "no anomalies"),
        },
    )
    yield state_store.state_check(context, ASSET)
