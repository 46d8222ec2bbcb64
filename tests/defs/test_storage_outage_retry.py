"""storage_outage_retry_sensor: a daily run that failed because the instance database went away is run again
(same day, assets, config and own tags), at most twice; a run that failed on its data or code is not."""

import dagster as dg
import pytest

from ops_pipelines.defs.platform.retries import storage_outage_retry_sensor
from ops_pipelines.lib.platform.retries import error_chain, storage_outage

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


JOB = dg.Definitions(assets=[fine, flaky], jobs=[dg.define_asset_job("toy", [fine, flaky])]).resolve_job_def("toy")


def failed_run(instance, reason: str, tags: dict | None = None):
    result = JOB.execute_in_process(instance=instance, partition_key="2026-03-02", raise_on_error=False,
                                    run_config={"ops": {"flaky": {"config": {"reason": reason}}}},
                                    tags={"ops/trigger": "cli", **(tags or {})})
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="storage_outage_retry_sensor", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run,
    ).for_run_failure()
    return context, result.dagster_run


def test_a_run_failed_by_the_database_going_away_is_run_again_with_the_same_day_assets_config_and_tags():
    with dg.instance_for_test() as instance:
        context, run = failed_run(instance, "database")
        request = storage_outage_retry_sensor(context)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == f"storage-retry:{run.run_id}" and request.partition_key == "2026-03-02"
        assert request.run_config == run.run_config
        assert request.tags == {"ops/trigger": "cli", "ops/retry_of": run.run_id, "ops/storage_retry": "1"}


@pytest.mark.parametrize(("reason", "tags", "why"), [
    ("data", {}, "failed for another reason than the instance storage"),
    ("database", {"ops/storage_retry": "2"}, "storage retries used up"),
    ("database", {"dagster/will_retry": "true"}, "Dagster's run retries take it"),
])
def test_no_retry_for_a_data_failure_after_two_retries_or_when_dagster_retries_it(reason, tags, why):
    with dg.instance_for_test() as instance:
        context, _ = failed_run(instance, reason, tags)
        skip = storage_outage_retry_sensor(context)
        assert isinstance(skip, dg.SkipReason) and why in skip.skip_message


def test_the_error_chain_is_searched_through_causes_and_contexts():
    class Info:
        def __init__(self, cls_name, message="", cause=None, context=None):
            self.cls_name, self.message, self.cause, self.context = cls_name, message, cause, context

    wrapped = Info("DagsterExecutionStepExecutionError", context=Info("KeyError", cause=Info("DagsterPostgresException")))
    assert [c for c, _ in error_chain(wrapped)][0] == "DagsterExecutionStepExecutionError"
    assert storage_outage([None, wrapped]) and not storage_outage([Info("ValueError", "no rows"), None])
