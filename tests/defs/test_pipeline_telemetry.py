"""pipeline_run_telemetry reads real runs from a Dagster instance and feeds metric_anomalies."""

import datetime as dt

import dagster as dg
import pytest

from ops_pipelines.defs.platform.telemetry import collect_runs, pipeline_run_telemetry


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="toy")])
def toy(context: dg.AssetExecutionContext):
    passed = context.run.tags.get("check") != "fail"
    return dg.MaterializeResult(metadata={"dagster/row_count": 5},
                                check_results=[dg.AssetCheckResult(check_name="positive", passed=passed)])


@dg.asset(deps=[toy])
def downstream(context: dg.AssetExecutionContext):
    if context.run.tags.get("step") == "fail":
        raise RuntimeError("downstream broke")


TOY_JOB = dg.Definitions(assets=[toy, downstream], jobs=[dg.define_asset_job("toy_job", [toy, downstream])]).resolve_job_def("toy_job")
RUNS = [{}, {}, {}, {"check": "fail"}, {"step": "fail"}]


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as inst:
        for tags in RUNS:
            TOY_JOB.execute_in_process(instance=inst, tags=tags, raise_on_error=False)
        yield inst


def today() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_collect_runs_reads_status_steps_rows_and_checks(instance):
    runs = collect_runs(instance, today(), today() + dt.timedelta(days=1), cutoff=float("inf"))
    assert len(runs) == len(RUNS) and {r.job for r in runs} == {"toy_job"}
    assert [r.status for r in runs] == ["SUCCESS"] * 4 + ["FAILURE"]
    assert all(r.start <= r.end for r in runs)
    assert [sorted(s.key for s in r.steps) for r in runs] == [["downstream", "toy"]] * len(RUNS)
    assert [s.succeeded for s in runs[-1].steps if s.key == "downstream"] == [False]
    assert all(r.row_counts and r.row_counts[0][0] == "toy" and r.row_counts[0][2] == 5.0 for r in runs)
    assert [[passed for _, _, passed in r.checks] for r in runs] == [[True], [True], [True], [False], [True]]


def test_runs_that_ended_after_the_cutoff_are_not_finished(instance):
    every = collect_runs(instance, today(), today() + dt.timedelta(days=1), cutoff=float("inf"))
    cutoff = every[-2].end
    runs = collect_runs(instance, today(), today() + dt.timedelta(days=1), cutoff=cutoff)
    assert [r.status for r in runs] == ["SUCCESS"] * 4 + ["NOT_FINISHED"]
    assert runs[-1].checks == () and runs[-1].row_counts == ()


def test_other_days_and_the_excluded_run_are_left_out(instance):
    assert collect_runs(instance, today() - dt.timedelta(days=1), today(), cutoff=float("inf")) == []
    every = collect_runs(instance, today(), today() + dt.timedelta(days=1), cutoff=float("inf"))
    rest = collect_runs(instance, today(), today() + dt.timedelta(days=1), cutoff=float("inf"), exclude=every[0].run_id)
    assert [r.run_id for r in rest] == [r.run_id for r in every[1:]]


def test_the_asset_turns_todays_runs_into_series(instance):
    out = pipeline_run_telemetry(dg.build_asset_context(partition_key=today().date().isoformat(), instance=instance))
    rows = out.value
    by = rows.groupby(["metric", "host"], observed=True)["value"]
    assert by.max()[("run_failed", "toy_job")] == 1.0
    assert by.max()[("check_failed", "toy:positive")] == 1.0
    assert by.min()[("rows_written", "toy")] >= 5.0
    assert {"downstream", "toy"} <= set(rows.loc[rows["metric"] == "step_duration_s", "host"])
    assert out.metadata["runs"].value == len(RUNS) and out.metadata["failed_runs"].value == 1


def test_a_day_without_runs_is_an_empty_partition(instance):
    yesterday = (today() - dt.timedelta(days=1)).date().isoformat()
    out = pipeline_run_telemetry(dg.build_asset_context(partition_key=yesterday, instance=instance))
    assert out.value.empty and list(out.value.columns) == ["timestamp", "service", "metric", "host", "value"]
    assert out.metadata["runs"].value == 0


def test_the_asset_is_a_platform_input_of_metric_anomalies():
    from ops_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("pipeline_run_telemetry")
    assert graph.get(key).group_name == "platform"
    assert key in graph.get(dg.AssetKey("metric_anomalies")).parent_keys
    assert key in defs.resolve_job_def("daily_job").asset_layer.selected_asset_keys
