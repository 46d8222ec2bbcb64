"""Landing-zone automation: new or changed files start ingestion runs for the partitions they touch."""

import json

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.platform.freshness import FRESHNESS_CHECKS
from ops_pipelines.factories.ingestion import INGESTION_ASSETS
from ops_pipelines.resources.landing_zone import LandingZone

ingestion_job = dg.define_asset_job(
    "landing_ingestion_job",
    selection=dg.AssetSelection.assets(*INGESTION_ASSETS.values()).required_multi_asset_neighbors() - FRESHNESS_CHECKS,
    partitions_def=daily_partitions,
    description="Ingest the landing zone for one day: metrics, logs, LLM traces, model events and change events.",
)


@dg.sensor(job=ingestion_job, minimum_interval_seconds=30)
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing_zone: LandingZone):
    """One run per (kind, day) whose files are new or changed since the last evaluation.

    The cursor holds every file's version (size and mtime); the run key is derived from the
    changed files' versions, so the same file version never starts a second run.
    """
    from ops_pipelines.lib.ingest.landing import scan
    from ops_pipelines.lib.landing_changes import changed_partitions

    seen = json.loads(context.cursor) if context.cursor else {}
    files = list(scan(landing_zone.path))
    valid_days = set(daily_partitions.get_partition_keys())
    for change in changed_partitions(seen, files):
        if change.day not in valid_days:
            context.log.warning(f"{change.kind}/{change.day}: not a partition of this deployment, skipped")
            continue
        name = INGESTION_ASSETS[change.kind]
        yield dg.RunRequest(
            run_key=change.run_key,
            partition_key=change.day,
            asset_selection=[dg.AssetKey(name), dg.AssetKey(f"{name}_quarantine")],
            tags={keys.TRIGGER: "landing_zone", keys.LANDING_FILES: ",".join(change.files)[:1000]},
        )
    context.update_cursor(json.dumps({f.relpath: f.version for f in files}, sort_keys=True))
