"""storage_outage_retry_sensor: a daily run that failed because the instance database went away is run again
(same day, assets, config and own tags), at most twice; a run that failed on its data or code is not, and a
crashed run is left to Dagster's run retries unless their retry could not be launched."""

import dagster as dg
import pytest

from ops_pipelines.defs.platform.retries import storage_outage_retry_sensor
from ops_pipelines.lib.platform.retries import error_chain, retry_request, storage_outage

DAILY = dg.DailyPartitionsDefinition(start_date="2026-03-01")


class ToyConfig(dg.Config):
    reason: str = "database"


@dg.asset(partitions_def=DAILY)
def fine():
    return None


@dg.asset(partitions_def=DAILY, deps=[fine])
def flaky(config: ToyConfig):
    if config.reason == "database":  # what a step sees when PostgreSQL restarts under it
        import psycopg2
        import sqlalchemy.exc

        cause = psycopg2.OperationalError("server closed the connection unexpectedly")
        raise sqlalchemy.exc.OperationalError("INSERT INTO event_logs ...", {}, cause)
    raise ValueError("the input had no rows")


# Named like the real job: the sensor looks at failed `daily_job` runs.
JOB = dg.Definitions(assets=[fine, flaky], jobs=[dg.define_asset_job("daily_job", [fine, flaky])]).resolve_job_def("daily_job")


def failed_run(instance, reason: str, tags: dict | None = None) -> dg.DagsterRun:
    result = JOB.execute_in_process(instance=instance, partition_key="2026-03-02", raise_on_error=False,
                                    run_config={"ops": {"flaky": {"config": {"reason": reason}}}},
                                    tags={"ops/trigger": "cli", **(tags or {})})
    assert not result.success
    return result.dagster_run


def evaluate(instance) -> list[dg.RunRequest]:
    result = storage_outage_retry_sensor(dg.build_sensor_context(instance=instance))
    return [] if isinstance(result, dg.SkipReason) else list(result)


def test_a_run_failed_by_the_database_going_away_is_run_again_with_the_same_day_assets_config_and_tags():
    with dg.instance_for_test() as instance:
        run = failed_run(instance, "database")
        failed_run(instance, "data")  # not ours: no request for it
        [request] = evaluate(instance)
        assert request.run_key == f"storage-retry:{run.run_id}" and request.partition_key == "2026-03-02"
        assert request.run_config == run.run_config
        assert request.tags == {"ops/trigger": "cli", "ops/retry_of": run.run_id, "ops/storage_retry": "1"}
        assert [r.run_key for r in evaluate(instance)] == [request.run_key]  # the run key makes it one run


@pytest.mark.parametrize("tags", [
    {"ops/storage_retry": "2"},  # retries used up
    {"dagster/will_retry": "true"},  # Dagster's run retries take it (looked at again on the next tick)
    {"dagster/auto_retry_run_id": "some-run"},  # Dagster retried it
])
def test_no_retry_when_used_up_or_dagster_takes_it(tags):
    with dg.instance_for_test() as instance:
        run = failed_run(instance, "database", tags)
        assert evaluate(instance) == []
        if tags.get("dagster/will_retry") == "true":  # Dagster could not launch its retry: now it is ours
            instance.add_run_tags(run.run_id, {"dagster/will_retry": "false"})
            assert [r.tags["ops/retry_of"] for r in evaluate(instance)] == [run.run_id]


class Info:
    """Shaped like Dagster's SerializableErrorInfo."""

    def __init__(self, cls_name, message="", cause=None, context=None):
        self.cls_name, self.message, self.cause, self.context = cls_name, message, cause, context


def test_the_error_chain_is_searched_through_causes_and_contexts():
    wrapped = Info("DagsterExecutionStepExecutionError", context=Info("KeyError", cause=Info("DagsterPostgresException")))
    assert [c for c, _ in error_chain(wrapped)][0] == "DagsterExecutionStepExecutionError"
    assert storage_outage([None, wrapped]) and not storage_outage([Info("ValueError", "no rows"), None])


def test_with_dagster_run_retries_on_a_failed_run_waits_for_dagsters_decision():
    """Dagster writes a failed run's status, then `dagster/will_retry`: a sensor tick in between must not retry
    a run that Dagster's retries take too."""
    tags, errors = {"ops/trigger": "cli"}, [Info("DagsterPostgresException", "server closed the connection")]
    assert retry_request("r1", tags, errors, dagster_retries=True) is None  # not decided yet
    assert retry_request("r1", {**tags, "dagster/will_retry": "true"}, errors, dagster_retries=True) is None
    decided = retry_request("r1", {**tags, "dagster/will_retry": "false"}, errors, dagster_retries=True)
    assert decided == {"ops/trigger": "cli", "ops/retry_of": "r1", "ops/storage_retry": "1"}
    assert retry_request("r1", tags, errors, dagster_retries=False) == decided  # no run retries: no tag ever comes
