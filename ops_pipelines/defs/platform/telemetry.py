"""Our own Dagster runs as telemetry: durations, failures, check outcomes and row counts per day."""

import datetime as dt

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.partitions import daily_partitions

HISTORY_DAYS = 7  # earlier runs read for the per-job baselines (step_slowdown, run_elapsed_ratio)
_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}


@dg.asset(partitions_def=daily_partitions, group_name="platform", owners=["team:platform"], kinds={"pandas", "parquet"})
def pipeline_run_telemetry(context: dg.AssetExecutionContext):
    """This deployment's own runs that started on the day, as metric series (service `ops-pipelines`):
    run and step durations, failed runs, failed checks, rows written, and slowdown against the
    job's recent runs. Runs still going when this run started are left out (see docs/platform.md)."""
    from ops_pipelines.lib.platform.run_telemetry import run_series, usable_runs

    window = context.partition_time_window
    cutoff = _run_start(context.instance, context.run_id)
    runs = collect_runs(context.instance, window.start, window.end, cutoff, exclude=context.run_id)
    jobs = {r.job for r in runs}
    history = [r for r in collect_runs(context.instance, window.start - dt.timedelta(days=HISTORY_DAYS), window.start,
                                       cutoff, exclude=context.run_id, events=False) if r.job in jobs]
    series = run_series(runs, history)
    used, skipped = usable_runs(runs)
    return dg.Output(series, metadata={
        "dagster/row_count": len(series),
        "runs": len(used),
        "failed_runs": sum(r.status == "FAILURE" for r in used),
        "jobs": dg.MetadataValue.json(sorted(jobs)),
        "skipped_runs": dg.MetadataValue.json(skipped),
        "baseline_runs": len(history),
        "cutoff": dg.MetadataValue.timestamp(cutoff),
    })


def _run_start(instance: dg.DagsterInstance, run_id: str) -> float:
    # The cutoff is when *this* run started, not "now": re-reading the same run gives the same rows.
    record = instance.get_run_record_by_id(run_id)
    if record is not None and record.start_time is not None:
        return record.start_time
    return dt.datetime.now(dt.UTC).timestamp()


def collect_runs(instance: dg.DagsterInstance, start: dt.datetime, end: dt.datetime, cutoff: float,
                 exclude: str | None = None, events: bool = True) -> list:
    """PipelineRun records of runs that started in [start, end); a run that ended after `cutoff`
    (or has not ended) is passed on as not finished, so the caller can count it."""
    from ops_pipelines.lib.platform.run_telemetry import PipelineRun, StepRun

    # A run is created (queued) before it starts: look back a day for runs that waited in the queue.
    filters = dg.RunsFilter(created_after=start - dt.timedelta(days=1), created_before=end)
    out = []
    for record in instance.get_run_records(filters=filters, order_by="create_timestamp", ascending=True):
        run = record.dagster_run
        began, ended = record.start_time, record.end_time
        if run.run_id == exclude or began is None or not start.timestamp() <= began < end.timestamp():
            continue
        finished = ended is not None and ended <= cutoff
        steps = tuple(StepRun(s.step_key, s.start_time, s.end_time, _ok(s.status)) for s in instance.get_run_step_stats(run.run_id))
        rows, checks = _asset_events(instance, run.run_id) if events and finished else ((), ())
        out.append(PipelineRun(run.run_id, run.job_name, run.status.value if finished else "NOT_FINISHED",
                               began, ended, steps, rows, checks))
    return out


def _ok(status) -> bool:
    # StepEventStatus lives in dagster._core; its value is the public part
    return status is not None and status.value == "SUCCESS"


def _asset_events(instance: dg.DagsterInstance, run_id: str) -> tuple[tuple, tuple]:
    rows, checks = [], []
    for record in instance.get_records_for_run(run_id, of_type=_EVENTS).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            count = entry.asset_materialization.metadata.get(keys.ROW_COUNT)
            if count is not None and isinstance(count.value, (int, float)):
                rows.append((event.asset_key.to_user_string(), entry.timestamp, float(count.value)))
        else:
            evaluation = event.asset_check_evaluation_data
            checks.append((f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}", entry.timestamp, evaluation.passed))
    return tuple(rows), tuple(checks)
