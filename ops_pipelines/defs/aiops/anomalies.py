"""Per-point anomaly scores for every metric series, with detector state carried day to day.

With one shard (`OPS_PIPELINES_SHARDS` unset or 1, read at load) `metric_anomalies` is one step, as it always was.
With N > 1 it is a graph-backed asset of the same key, inputs and check: the day's rows are split by a stable
service shard, each shard is scored by a step of its own (`DynamicOut`: on any worker of the multiprocess or
Celery executor, holding only its shard's series and state), and the shards' scores and detector state are joined
into the one daily partition and state file, byte for byte what one step stores.
"""

import dagster as dg

from ops_pipelines.defs.partitions import PREVIOUS_DAY, daily_partitions
from ops_pipelines.io.parquet import ParquetIOManager, StepOutputs
from ops_pipelines.resources.state_store import StateStore, state_check_spec
from ops_pipelines.settings import shard_count

ASSET = "metric_anomalies"
# OPS_PIPELINES_SHARDS: like OPS_PIPELINES_EXECUTOR, every worker needs the same value (1 or not decides the graph)
SHARDS = shard_count()
CHECK_OUTPUT = state_check_spec(ASSET).get_python_identifier()


def _rows(frames):
    """The day's metric rows: infrastructure, LLM KPIs and our own runs, in this order."""
    import pandas as pd

    full = [f for f in frames if len(f)]
    return pd.concat(full, ignore_index=True) if full else frames[0]


DESCRIPTION = ("Every metric point, infrastructure, LLM KPIs and our own pipeline runs alike, with an anomaly score in "
               "[0, 1] and a flag (score >= 0.5): causal, seasonal (day and week), robust to spikes, adapting to "
               "persistent level shifts; one default sensitivity.")


def _metadata(scored, previous, shards: int) -> dict:
    from ops_pipelines.lib.markdown import table as md_table

    flagged = scored[scored["is_anomaly"]]
    top = flagged.groupby(["service", "metric"], observed=True).size().sort_values(ascending=False).head(10)
    table = md_table(["service", "metric", "anomalous points"], [[s, m, n] for (s, m), n in top.items()])
    return {
        "dagster/row_count": len(scored),
        "anomalous_points": len(flagged),
        "anomaly_rate": float(len(flagged) / len(scored)) if len(scored) else 0.0,
        "series": int(scored.groupby(["service", "metric", "host"], observed=True).ngroups) if len(scored) else 0,
        "state_from": previous.stem if previous is not None else "cold start",
        "shards": shards,
        "top_series": dg.MetadataValue.md(table if len(top) else "no anomalies"),
    }


# What the single step and the sharded graph share; each adds how it depends on the previous day's state
# (an input either way: Dagster runs the days in order).
ASSET_ARGS = dict(name=ASSET, partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"],
                  kinds={"pandas", "parquet"}, check_specs=[state_check_spec(ASSET)])


def _one_step() -> dg.AssetsDefinition:
    @dg.asset(**ASSET_ARGS, deps=[dg.AssetDep(ASSET, partition_mapping=PREVIOUS_DAY)], description=DESCRIPTION)
    def metric_anomalies(context: dg.AssetExecutionContext, telemetry_metrics, llm_kpi_series, pipeline_run_telemetry,
                         state_store: StateStore):
        from ops_pipelines import settings
        from ops_pipelines.lib.aiops.anomalies import score_metrics
        from ops_pipelines.lib.aiops.state_store import load_state, save_state

        settings.use_compiled_cache()
        day = context.partition_key
        previous = state_store.previous(context, ASSET)
        state = load_state(previous) if previous is not None else None
        scored, state = score_metrics(_rows([telemetry_metrics, llm_kpi_series, pipeline_run_telemetry]), state)
        save_state(state, state_store.path(ASSET, day))
        state_store.record(ASSET, day, {ASSET: previous})
        yield dg.Output(scored, metadata=_metadata(scored, previous, 1))
        yield state_store.state_check(context, ASSET)

    return metric_anomalies


@dg.op(out=dg.DynamicOut(), tags={"kind": "split"})
def metric_shards(telemetry_metrics, llm_kpi_series, pipeline_run_telemetry):
    """The day's metric rows split by service shard, one output per shard (empty shards included)."""
    from ops_pipelines.lib.aiops.shards import split_rows

    for s, part in enumerate(split_rows(_rows([telemetry_metrics, llm_kpi_series, pipeline_run_telemetry]), SHARDS)):
        yield dg.DynamicOutput(part, mapping_key=f"shard{s}_of_{SHARDS}",
                               metadata={"rows": len(part), "services": int(part["service"].nunique()) if len(part) else 0,
                                         "process_peak_rss_mb": _peak_rss_mb()})


@dg.op
def metric_shard_scores(context: dg.OpExecutionContext, rows, state_store: StateStore):
    """One shard's points scored, continuing its series' state from the previous day's state file."""
    from ops_pipelines import settings
    from ops_pipelines.lib.aiops.anomalies import score_metrics, series_codes
    from ops_pipelines.lib.aiops.shards import shard_result
    from ops_pipelines.lib.aiops.state_store import load_state

    settings.use_compiled_cache()
    previous = state_store.latest_before(ASSET, context.partition_key)
    state = None
    if previous is not None and len(rows):
        state = load_state(previous, only=series_codes(rows)[1])
    scored, state = score_metrics(rows, state)
    shard, shards = (int(n) for n in context.get_mapping_key().removeprefix("shard").split("_of_"))
    return dg.Output(shard_result(scored["anomaly_score"].to_numpy(), state, shard, shards),
                     metadata={"points": len(rows), "series": len(state.keys), "process_peak_rss_mb": _peak_rss_mb()})


@dg.op(
    ins={"previous_day": dg.In(dg.Nothing)},
    out={"result": dg.Out(), CHECK_OUTPUT: dg.Out(dg.Nothing)},
)
def metric_scores_joined(context: dg.OpExecutionContext, telemetry_metrics, llm_kpi_series, pipeline_run_telemetry,
                         shard_results, state_store: StateStore, io_manager: dg.ResourceParam[ParquetIOManager]):
    """The shards' scores back in row order and their state joined into the day's state file."""
    from ops_pipelines.lib.aiops.anomalies import with_scores
    from ops_pipelines.lib.aiops.shards import joined_scores, joined_state
    from ops_pipelines.lib.aiops.state_store import load_state, save_state

    day = context.partition_key
    previous = state_store.previous(context, ASSET)
    rows = _rows([telemetry_metrics, llm_kpi_series, pipeline_run_telemetry])
    scored = with_scores(rows, joined_scores(rows, shard_results))
    state = joined_state(load_state(previous) if previous is not None else None, shard_results)
    save_state(state, state_store.path(ASSET, day))
    state_store.record(ASSET, day, {ASSET: previous})
    # written: the shards' parts are not needed again (a later run re-splits the day)
    StepOutputs(io_manager.base_dir).written(context, f"{ASSET}.")
    yield dg.Output(scored, output_name="result", metadata=_metadata(scored, previous, len(shard_results)))
    yield state_store.state_check(context, ASSET)


def _sharded() -> dg.AssetsDefinition:
    @dg.graph_asset(
        **ASSET_ARGS,
        ins={"previous_day": dg.AssetIn(ASSET, partition_mapping=PREVIOUS_DAY, dagster_type=dg.Nothing)},
        description=DESCRIPTION + f" Scored in {SHARDS} service shards (OPS_PIPELINES_SHARDS), a step each.",
    )
    def metric_anomalies(telemetry_metrics, llm_kpi_series, pipeline_run_telemetry, previous_day):
        results = metric_shards(telemetry_metrics, llm_kpi_series, pipeline_run_telemetry).map(metric_shard_scores)
        scored, check = metric_scores_joined(telemetry_metrics, llm_kpi_series, pipeline_run_telemetry,
                                             results.collect(), previous_day=previous_day)
        return {"result": scored, CHECK_OUTPUT: check}

    return metric_anomalies


# One shard: the single step (no split, no join, no extra step events); more: the sharded graph.
metric_anomalies = _one_step() if SHARDS == 1 else _sharded()


def _peak_rss_mb() -> float:
    """This process's largest resident set so far (VmHWM), in MB: one step's with the multiprocess or Celery
    executor, the whole run's in one process."""
    from ops_pipelines.distributed import peak_rss_mb

    return round(peak_rss_mb(), 1)
