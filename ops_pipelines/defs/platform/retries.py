"""A daily run that failed because the instance's database was unreachable is run again once it is back."""

import dagster as dg

from ops_pipelines.defs.platform.jobs import daily_job


@dg.run_failure_sensor(monitored_jobs=[daily_job], request_job=daily_job, minimum_interval_seconds=15,
                       default_status=dg.DefaultSensorStatus.RUNNING)
def storage_outage_retry_sensor(context: dg.RunFailureSensorContext):
    """Runs a failed daily run again (same day, assets and run config) when its steps failed because the Dagster
    instance's database was unreachable (PostgreSQL restarted or down mid-run), up to twice; a failure of the
    data or the code is left alone. Partition writes are idempotent, so the retry writes what one run writes."""
    from ops_pipelines.lib.platform.retries import (
        ATTEMPT_TAG,
        RETRY_OF_TAG,
        carried_tags,
        retry_attempt,
        storage_outage,
    )

    run = context.dagster_run
    if run.tags.get("dagster/will_retry") == "true":
        return dg.SkipReason(f"run {run.run_id}: Dagster's run retries take it (its worker crashed)")
    errors = [e.step_failure_data.error for e in context.get_step_failure_events()]
    errors.append(getattr(context.failure_event.event_specific_data, "error", None))
    if not storage_outage(errors):
        return dg.SkipReason(f"run {run.run_id} failed for another reason than the instance storage")
    attempt = retry_attempt(run.tags)
    if attempt is None:
        return dg.SkipReason(f"run {run.run_id}: storage retries used up")
    context.log.info(f"run {run.run_id} failed because the instance's database was unreachable: running it again")
    return dg.RunRequest(
        run_key=f"storage-retry:{run.run_id}",
        partition_key=run.tags.get("dagster/partition"),
        asset_selection=sorted(run.asset_selection, key=lambda k: k.to_user_string()) if run.asset_selection else None,
        run_config=run.run_config,
        tags={**carried_tags(run.tags), RETRY_OF_TAG: run.run_id, ATTEMPT_TAG: str(attempt)},
    )
