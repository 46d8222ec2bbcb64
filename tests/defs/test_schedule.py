"""The nightly schedule asks for yesterday's partition of the whole-graph job."""

import datetime as dt

import dagster as dg

from ops_pipelines.definitions import defs


def test_nightly_schedule_runs_yesterday_at_two_utc():
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.job_name == "daily_job"
    when = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-09"]
