"""A daily run that failed because the instance's database was unreachable is run again once it is back."""

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.platform.jobs import daily_job

LOOKBACK_S = 24 * 3600  # failed runs looked at again on every tick (few: failures are rare)


@dg.sensor(job=daily_job, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING)
def storage_outage_retry_sensor(context: dg.SensorEvaluationContext):
    """Runs a failed daily run again (same day, assets and run config) when it failed because the Dagster
    instance's database was unreachable (PostgreSQL restarted or down mid-run), up to twice; a failure of the
    data or the code is left alone. A crashed run that Dagster's run retries take is left to them, unless their
    retry could not be launched (the code location was still unreachable). Partition writes are idempotent, so
    the retry writes what one run writes."""
    import datetime as dt

    from ops_pipelines.lib.platform.retries import retry_request

    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LOOKBACK_S)
    failed = context.instance.get_runs(filters=dg.RunsFilter(job_name=daily_job.name, statuses=[dg.DagsterRunStatus.FAILURE],
                                                             updated_after=since), limit=200)
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    requests = []
    for run in failed:
        errors = [getattr(e.dagster_event.event_specific_data, "error", None) for e in context.instance.all_logs(run.run_id, of_type=kinds)]
        tags = retry_request(run.run_id, run.tags, errors, context.instance.run_retries_enabled)
        if tags is None:
            continue
        context.log.info(f"run {run.run_id} failed because the instance's database was unreachable: running it again")
        requests.append(dg.RunRequest(
            run_key=f"storage-retry:{run.run_id}",  # one retry per failed run, however often the sensor looks
            partition_key=run.tags.get(keys.PARTITION),
            asset_selection=sorted(run.asset_selection, key=lambda k: k.to_user_string()) if run.asset_selection else None,
            run_config=run.run_config,
            tags=tags,
        ))
    return requests or dg.SkipReason(f"{len(failed)} failed daily run(s) in the last day, none to retry")
