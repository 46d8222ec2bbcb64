"""Anomaly rollups per service, metric and hour (and day).

With one shard (`OPS_PIPELINES_SHARDS` unset or 1, read at load) `anomaly_rollups` is one step. With N > 1 it is
a graph-backed asset of the same key and input: N steps each read only their shard's services' rows of the day's
`metric_anomalies` partition (a filtered Parquet read: a step never holds the whole day) and roll them up, and a
last step puts the shards' rollups in order: byte for byte what one step stores, since a series' rollup depends on
its own points only.
"""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.io.parquet import ParquetIOManager, StepOutputs
from ops_pipelines.settings import shard_count

ASSET = "anomaly_rollups"
SHARDS = shard_count()  # every process must see the same value, as for metric_anomalies
# What `rollup` reads of the scored day: the values, hosts and detector internals stay on disk.
INPUTS = ["timestamp", "service", "metric", "anomaly_score", "is_anomaly"]
ASSET_ARGS = dict(name=ASSET, partitions_def=daily_partitions, group_name="aiops", owners=["team:aiops"],
                  kinds={"pandas", "parquet"})
DESCRIPTION = ("Per service, metric and hour (and per day): points, anomalies, max and mean score, first and last "
               "anomalous time. The place to see which signals were noisy when.")


def _output(out, shards: int) -> dg.Output:
    hourly = out[out["granularity"] == "hour"]
    return dg.Output(out, metadata={
        "dagster/row_count": len(out),
        "anomalous_hours": int((hourly["anomalies"] > 0).sum()),
        "anomalies": int(out.loc[out["granularity"] == "day", "anomalies"].sum()),
        "shards": shards,
    })


def _one_step() -> dg.AssetsDefinition:
    @dg.asset(**ASSET_ARGS, ins={"metric_anomalies": dg.AssetIn(metadata={"columns": INPUTS})}, description=DESCRIPTION)
    def anomaly_rollups(metric_anomalies):
        from ops_pipelines.lib.aiops.rollups import rollup

        return _output(rollup(metric_anomalies), 1)

    return anomaly_rollups


def _shard_rollup(shard: int, shards: int) -> dg.OpDefinition:
    """The op that rolls up one shard: its input's metadata tells the IO manager which services to read."""

    @dg.op(name=f"rollup_shard{shard}_of_{shards}",
           ins={"metric_anomalies": dg.In(metadata={"columns": INPUTS, "shard": [shard, shards]})})
    def rollup_shard(metric_anomalies):
        from ops_pipelines.distributed import peak_rss_mb
        from ops_pipelines.lib.aiops.rollups import rollup

        out = rollup(metric_anomalies)
        return dg.Output(out, metadata={"points": len(metric_anomalies), "rows": len(out),
                                        "process_peak_rss_mb": round(peak_rss_mb(), 1)})

    return rollup_shard


@dg.op(out=dg.Out())
def rollups_joined(context: dg.OpExecutionContext, parts, io_manager: dg.ResourceParam[ParquetIOManager]):
    """The shards' rollups as one day's table, in the order one step writes it."""
    from ops_pipelines.lib.aiops.rollups import joined_rollups

    out = joined_rollups(parts)
    StepOutputs(io_manager.base_dir).written(context, f"{ASSET}.")  # the parts are in memory now
    return _output(out, len(parts))


def _sharded() -> dg.AssetsDefinition:
    shard_ops = [_shard_rollup(s, SHARDS) for s in range(SHARDS)]

    @dg.graph_asset(**ASSET_ARGS, description=DESCRIPTION + f" Rolled up in {SHARDS} service shards, a step each.")
    def anomaly_rollups(metric_anomalies):
        return rollups_joined([op(metric_anomalies) for op in shard_ops])

    return anomaly_rollups


anomaly_rollups = _one_step() if SHARDS == 1 else _sharded()
