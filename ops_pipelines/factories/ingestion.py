"""One factory for the ingestion assets, so every kind gets the same contract.

Each ingestion asset is a multi-asset with two outputs, the clean rows and `<name>_quarantine`,
and three checks: every row read is accounted for (blocking), the quarantined share stays under
the landing zone's threshold (blocking), and every file could be read.
"""


import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.resources.landing_zone import LandingZone

# landing-zone kind -> asset name
INGESTION_ASSETS = {
    "metrics": "telemetry_metrics",
    "logs": "service_logs",
    "llm_traces": "llm_traces",
    "model_events": "model_events",
    "changes": "change_events",
}


def ingestion_asset(kind: str, group: str, description: str) -> dg.AssetsDefinition:
    name = INGESTION_ASSETS[kind]
    quarantine = f"{name}_quarantine"

    @dg.multi_asset(
        name=f"ingest_{name}",
        outs={
            name: dg.AssetOut(description=description, group_name=group, owners=[f"team:{group}"], kinds={"pandas", "parquet"}),
            quarantine: dg.AssetOut(
                description=f"Rows of `{name}` that could not be used: source file, line, reason, detail, raw row.",
                group_name=group,
                owners=[f"team:{group}"],
                kinds={"pandas", "parquet"},
            ),
        },
        partitions_def=daily_partitions,
        check_specs=[
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
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, landing_zone: LandingZone):
        from ops_pipelines.lib.ingest.landing import ingest_partition
        from ops_pipelines.lib.ingest.quarantine import reason_counts
        from ops_pipelines.lib.ingest.summary import describe

        result = ingest_partition(kind, landing_zone.path, context.partition_key, landing_zone.format_options())
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
            },
        )
        yield dg.Output(
            result.quarantine,
            output_name=quarantine,
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

    return _ingest


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
