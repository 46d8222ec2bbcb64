"""One factory for the ingestion assets, so every kind gets the same contract.

Each ingestion asset is a multi-asset with two outputs, the clean rows and `<name>_quarantine`,
and three checks: every row read is accounted for (blocking), the quarantined share stays under
the landing zone's threshold (blocking), and every file could be read. Metrics can be ingested by
service shard (`OPS_PIPELINES_SHARDS`): a graph-backed multi-asset of the same keys and checks.
"""


import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.io.parquet import ParquetIOManager, StepOutputs
from ops_pipelines.resources.landing_zone import LandingZone

# landing-zone kind -> asset name
INGESTION_ASSETS = {
    "metrics": "telemetry_metrics",
    "logs": "service_logs",
    "llm_traces": "llm_traces",
    "model_events": "model_events",
    "changes": "change_events",
}


def ingestion_asset(kind: str, group: str, description: str, shards: int = 1) -> dg.AssetsDefinition:
    """The kind's ingestion multi-asset: one step, or with `shards` > 1 a step per service shard (each reads the
    day's files and keeps its services' rows) and a step that joins them into the same two partitions."""
    name = INGESTION_ASSETS[kind]
    quarantine = f"{name}_quarantine"
    outs = {
        name: dg.AssetOut(description=description, group_name=group, owners=[f"team:{group}"], kinds={"pandas", "parquet"}),
        quarantine: dg.AssetOut(
            description=f"Rows of `{name}` that could not be used: source file, line, reason, detail, raw row.",
            group_name=group,
            owners=[f"team:{group}"],
            kinds={"pandas", "parquet"},
        ),
    }
    check_specs = [
        dg.AssetCheckSpec(
            "rows_accounted_for",
            asset=name,
            blocking=True,
            description="For every file: rows read = rows stored + rows quarantined + exact duplicates dropped.",
        ),
        dg.AssetCheckSpec(
            "quarantine_share_below_threshold",
            asset=name,
            blocking=True,
            description="The share of quarantined rows stays under the landing zone's max_quarantine_share.",
        ),
        dg.AssetCheckSpec("all_files_readable", asset=name, description="Every file of the partition could be read."),
    ]
    if shards > 1:
        return _sharded(kind, group, outs, check_specs, shards)

    @dg.multi_asset(name=f"ingest_{name}", outs=outs, partitions_def=daily_partitions, check_specs=check_specs)
    def _ingest(context: dg.AssetExecutionContext, landing_zone: LandingZone):
        from ops_pipelines.lib.ingest.landing import ingest_partition

        result = ingest_partition(kind, landing_zone.path, context.partition_key, landing_zone.format_options())
        yield from _results(context, kind, result, landing_zone)

    return _ingest


def _sharded(kind: str, group: str, outs: dict, check_specs: list[dg.AssetCheckSpec], shards: int) -> dg.AssetsDefinition:
    """The graph: `shards` steps of one service shard each (any worker can run them), then the join."""
    name = INGESTION_ASSETS[kind]
    checks = [spec.get_python_identifier() for spec in check_specs]

    def shard_op(shard: int) -> dg.OpDefinition:
        @dg.op(name=f"ingest_{name}_shard{shard}_of_{shards}", out={"rows": dg.Out(), "quarantine": dg.Out(), "accounts": dg.Out()})
        def ingest_shard(context: dg.OpExecutionContext, landing_zone: LandingZone):
            from ops_pipelines.distributed import peak_rss_mb
            from ops_pipelines.lib.ingest.landing import ingest_partition

            result = ingest_partition(kind, landing_zone.path, context.partition_key, landing_zone.format_options(),
                                      shard=(shard, shards))
            yield dg.Output(result.rows, "rows", metadata={"rows": len(result.rows), "rows_read": result.rows_read,
                                                           "process_peak_rss_mb": round(peak_rss_mb(), 1)})
            yield dg.Output(result.quarantine, "quarantine")
            yield dg.Output(result.accounts, "accounts")

        return ingest_shard

    @dg.op(name=f"ingest_{name}_joined", out={name: dg.Out(), f"{name}_quarantine": dg.Out(),
                                                **{c: dg.Out(dg.Nothing) for c in checks}})
    def joined(context: dg.OpExecutionContext, rows, quarantines, accounts, landing_zone: LandingZone,
               io_manager: dg.ResourceParam[ParquetIOManager]):
        from ops_pipelines.lib.ingest.landing import SCHEMAS
        from ops_pipelines.lib.ingest.shards import join_shards

        result = join_shards(list(zip(rows, quarantines, accounts)), SCHEMAS[kind])
        StepOutputs(io_manager.base_dir).written(context, f"ingest_{name}.")  # the shards' parts are in memory now
        yield from _results(context, kind, result, landing_zone, shards)

    shard_ops = [shard_op(s) for s in range(shards)]

    # group_name here: graph_multi_asset does not take the outs' own
    @dg.graph_multi_asset(name=f"ingest_{name}", outs=outs, partitions_def=daily_partitions, check_specs=check_specs,
                          group_name=group)
    def _ingest():
        parts = [op() for op in shard_ops]
        return joined([p.rows for p in parts], [p.quarantine for p in parts], [p.accounts for p in parts])

    return _ingest


def _results(context, kind: str, result, landing_zone: LandingZone, shards: int = 1):
    """The partition's two outputs and three checks, from its ingestion result."""
    from ops_pipelines.lib.ingest.quarantine import reason_counts
    from ops_pipelines.lib.ingest.summary import describe

    name = INGESTION_ASSETS[kind]
    for error in result.file_errors:
        context.log.error(f"unreadable file {error.path}: {error.problem}")
    counts = reason_counts(result.quarantine)
    share = result.quarantine_share
    yield dg.Output(
        result.rows,
        output_name=name,
        metadata={
            "dagster/row_count": len(result.rows),
            "files_read": result.files_read,
            "unreadable_files": len(result.file_errors),
            "rows_read": result.rows_read,
            "quarantined_rows": result.quarantined_rows,
            "quarantine_share": float(share),
            "exact_duplicates_dropped": result.exact_duplicates,
            "accounting": dg.MetadataValue.md(_accounting_table(result.accounts)),
            **describe(kind, result.rows),
            **({"shards": shards} if shards > 1 else {}),
        },
    )
    yield dg.Output(
        result.quarantine,
        output_name=f"{name}_quarantine",
        metadata={"dagster/row_count": len(result.quarantine), **{f"reason/{k}": v for k, v in counts.items()}},
    )
    unaccounted = result.unaccounted()
    yield dg.AssetCheckResult(
        asset_key=name,
        check_name="rows_accounted_for",
        passed=result.accounted_for,
        metadata={
            "rows_read": result.rows_read,
            "rows_stored": len(result.rows),
            "rows_quarantined": result.quarantined_rows,
            "exact_duplicates": result.exact_duplicates,
            "unaccounted_files": dg.MetadataValue.md(_accounting_table(unaccounted) if len(unaccounted) else "none"),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=name,
        check_name="quarantine_share_below_threshold",
        passed=share <= landing_zone.max_quarantine_share,
        metadata={"quarantine_share": float(share), "threshold": landing_zone.max_quarantine_share},
    )
    yield dg.AssetCheckResult(
        asset_key=name,
        check_name="all_files_readable",
        passed=not result.file_errors,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"unreadable": dg.MetadataValue.md(_error_table(result.file_errors))},
    )


def _error_table(errors) -> str:
    from ops_pipelines.lib.markdown import table

    return table(["file", "problem"], [[e.path, e.problem] for e in errors], code=["file"], empty="none")


MAX_TABLE_FILES = 50  # metadata stays small; the counts above are over all files


def _accounting_table(accounts) -> str:
    """Per file: read = stored + quarantined + exact duplicates, as a Markdown table."""
    from ops_pipelines.lib.markdown import table

    if accounts.empty:
        return "no files"
    counts = ["read", "stored", "quarantined", "exact duplicates"]
    rows = [[a.source_file, a.rows_read, a.rows_stored, a.rows_quarantined, a.exact_duplicates]
            for a in accounts.head(MAX_TABLE_FILES).itertuples()]
    text = table(["file", *counts], rows, code=["file"], right=counts)
    if len(accounts) > MAX_TABLE_FILES:
        text += f"\n| ... {len(accounts) - MAX_TABLE_FILES} more files | | | | |"
    return text
