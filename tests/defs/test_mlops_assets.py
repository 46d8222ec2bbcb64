"""The MLOps loop through Dagster: drift report -> retraining sensor -> retraining job -> registry.

A small world of click events: two quiet days, then a shift in prices, categories and click
behaviour. A real MLflow SQLite store, real GX suites and drift statistics, the real sensor.
"""

import io
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from ops_pipelines.cli.datasets import list_datasets, reproduce
from ops_pipelines.defs.mlops.drift import drift_report
from ops_pipelines.defs.mlops.drift_html import drift_report_html
from ops_pipelines.defs.mlops.retraining import retraining_sensor
from ops_pipelines.defs.mlops.training import (
    candidate_model,
    model_evaluation,
    training_dataset,
)
from ops_pipelines.io.parquet import (
    ParquetIOManager,
    StoredPartitions,
    partition_path,
    write_parquet_atomic,
)
from ops_pipelines.lib.platform.home import init_home
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.model_registry import ModelRegistry
from ops_pipelines.resources.state_store import StateStore
from ops_pipelines.settings import ASSETS_DIR

DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]
MODEL = "ctr_logreg"
SEGMENTS = ["bargain_hunter", "premium", "casual", "new_user"]


def events(day: str, seed: int, shifted: bool, n: int = 6000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_400_000, n)), unit="ms")
    cats = ["electronics", "books", "home", "smart-home", "gaming"] if shifted else ["electronics", "books", "home"]
    frame = pd.DataFrame({
        "event_id": [f"ev-{day}-{i}" for i in range(n)], "timestamp": ts, "user_id": [f"u{i % 500}" for i in range(n)],
        "item_id": [f"I{i % 900}" for i in range(n)], "category": rng.choice(cats, n),
        "price": np.round(rng.lognormal(3.5 if shifted else 3.0, 0.6, n), 2),
        "user_segment": rng.choice(SEGMENTS, n), "device": rng.choice(["mobile", "desktop", "tablet"], n),
        "country": rng.choice(["DE", "FR", "NL"], n), "position": rng.integers(1, 21, n).astype("int32"),
        "item_popularity": np.round(rng.random(n), 4),
    })
    sign = -1.0 if shifted else 1.0  # after the shift, popularity stops predicting clicks and price flips
    logit = -1.5 - 0.4 * np.log(frame["position"]) + sign * 2.0 * frame["item_popularity"] - sign * 0.8 * np.log(frame["price"] / 30)
    frame["clicked"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int8")
    return frame


@pytest.fixture
def world(tmp_path):
    storage = tmp_path / "storage"
    for i, day in enumerate(DAYS):
        write_parquet_atomic(events(day, i, shifted=i == 2), partition_path(storage, "model_events", day))
    # One incident on the shift day: its rows must not be trained on.
    incidents = pd.DataFrame({"incident_id": ["INC-9"], "start": [pd.Timestamp("2026-03-04T06:00Z")],
                              "end": [pd.Timestamp("2026-03-04T07:00Z")], "affected_services": [["recommendations"]]})
    write_parquet_atomic(incidents, partition_path(storage, "incidents", DAYS[2]))
    for day in DAYS[:2]:
        write_parquet_atomic(incidents.iloc[:0], partition_path(storage, "incidents", day))
    models = json.loads((ASSETS_DIR / "mlops" / "models.json").read_text())
    spec = next(m for m in models["models"] if m["name"] == MODEL)
    spec["training"] = {"window_days": 2, "holdout_share": 0.25, "min_rows": 1000}
    (tmp_path / "models.json").write_text(json.dumps({"models": [spec]}))
    init_home(tmp_path / "home")  # `ops-pipelines init`: runs never create the registry store
    return {"model_registry": ModelRegistry(models_path=str(tmp_path / "models.json"), home=str(tmp_path / "home")),
            "dataset_store": DatasetStore(home=str(tmp_path / "home")),
            "stored_partitions": StoredPartitions(base_dir=str(storage)),
            "io_manager": ParquetIOManager(base_dir=str(storage)), "storage": storage,
            "state_store": StateStore(root=str(tmp_path / "state"))}


RESOURCES = ("model_registry", "dataset_store", "stored_partitions", "io_manager", "state_store")


def drift_day(world, day, instance):
    # `incidents` is read from storage, as the real upstream partition would be.
    return dg.materialize(
        [drift_report, dg.AssetSpec("incidents", partitions_def=drift_report.partitions_def)],
        partition_key=day, instance=instance, resources={k: world[k] for k in RESOURCES}, selection=[drift_report],
    )


def html_day(world, day, instance, html_report: str | None = None):
    """drift_report_html on the day's stored drift_report: its `<model>/report` path, or None."""
    result = dg.materialize(
        [drift_report_html, dg.AssetSpec("drift_report", partitions_def=drift_report.partitions_def)],
        partition_key=day, instance=instance, resources={k: world[k] for k in RESOURCES}, selection=[drift_report_html],
        run_config={"ops": {"drift_report_html": {"config": {"html_report": html_report}}}} if html_report else None,
    )
    report = result.asset_materializations_for_node("drift_report_html")[0].metadata.get(f"{MODEL}/report")
    return None if report is None else Path(report.value)


def retrain(request, instance, world):
    return dg.materialize(
        [training_dataset, candidate_model, model_evaluation], partition_key=request.partition_key, instance=instance,
        tags=request.tags, resources={k: world[k] for k in RESOURCES}, raise_on_error=False,
    )


def sensor_requests(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = retraining_sensor(context)
    requests = [] if isinstance(result, dg.SkipReason) else list(result)
    return requests, context.cursor


def test_bootstrap_then_one_retraining_per_drift_event_with_incident_rows_excluded(world):
    with dg.instance_for_test() as instance:
        assert drift_day(world, DAYS[0], instance).success
        requests, cursor = sensor_requests(instance)
        assert requests == []  # one day of data, the window needs two
        assert drift_day(world, DAYS[1], instance).success
        requests, cursor = sensor_requests(instance, cursor)
        assert [r.run_key for r in requests] == [f"{MODEL}:bootstrap:{DAYS[1]}"]
        assert retrain(requests[0], instance, world).success
        client = world["model_registry"].client()
        name = world["model_registry"].spec(MODEL).registered_name
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"

        # The shift day: drift against the champion's training data, one request for the event.
        shift = drift_day(world, DAYS[2], instance)
        meta = shift.asset_materializations_for_node("drift_report")[0].metadata
        assert meta[f"{MODEL}/dataset_drift"].value is True
        assert meta[f"{MODEL}/incidents"].value == "INC-9"
        assert html_day(world, DAYS[2], instance).is_file()  # Evidently's HTML on a drifted day
        # Tidy in the UI: per-column detail is one Markdown table, no key is empty, floats are rounded.
        assert not [k for k in meta if k.count("/") > 1], "per-column keys are back"
        assert "| column | method | score | threshold | drifted |" in meta[f"{MODEL}/columns"].value
        assert not [k for k, v in meta.items() if v.value in ("", None)]
        share = meta[f"{MODEL}/drift_share"].value
        assert share == float(f"{share:.4g}")
        # Bias across groups: the champion's per-group table every day, and the (non-blocking) warning check.
        assert "| column | group | rows | positives | roc_auc |" in meta[f"{MODEL}/groups"].value
        (groups_check,) = [c for c in shift.get_asset_check_evaluations() if c.check_name == "groups_within_quality_margin"]
        assert groups_check.severity == dg.AssetCheckSeverity.WARN and groups_check.metadata["models_judged"].value == 1
        requests, cursor = sensor_requests(instance, cursor)
        assert [r.run_key for r in requests] == [f"{MODEL}:v1:{DAYS[2]}"]
        assert requests[0].tags["ops/window_start"] == DAYS[2]
        assert requests[0].tags["ops/incidents_in_drift_window"] == "INC-9"
        # Re-running the day's report asks for the same event again: the run key makes it one run.
        drift_day(world, DAYS[2], instance)
        again, _ = sensor_requests(instance, cursor)
        assert [r.run_key for r in again] == [requests[0].run_key]

        result = retrain(requests[0], instance, world)
        assert result.success
        dataset_meta = result.asset_materializations_for_node("training_dataset")[0].metadata
        excluded = dataset_meta["excluded_rows"].value
        assert excluded.get("incident_window", 0) > 0 and dataset_meta["excluded_incidents"].value == "INC-9"
        store = world["dataset_store"]
        version = store.get(MODEL, dataset_meta["dataset_version"].value)
        assert version.lineage["incident_ids"] == ["INC-9"]
        rows = store.load(MODEL, version.version)
        inside = (rows["timestamp"] >= pd.Timestamp("2026-03-04T05:45Z")) & (rows["timestamp"] <= pd.Timestamp("2026-03-04T07:15Z"))
        assert not inside.any() and rows["timestamp"].min() >= pd.Timestamp(DAYS[2], tz="UTC")
        decision = result.asset_materializations_for_node("model_evaluation")[0].metadata["decision"].value
        evaluation_meta = result.asset_materializations_for_node("model_evaluation")[0].metadata
        assert evaluation_meta["disparity_blocked"].value == "none"  # per-column figures when groups have labels enough
        assert "| column | group | candidate roc_auc |" in evaluation_meta["groups"].value
        mv = client.get_model_version(name, "2")
        assert mv.tags["ops.decision"] == decision and mv.tags["ops.decision_reason"]
        # The new world is unlike the old one: the candidate trained on it wins on the later window.
        assert decision == "promoted"
        assert str(client.get_model_version_by_alias(name, "champion").version) == "2"

    # What a user runs: list the versions, and retrain v2 from its recorded dataset version.
    home, out = Path(world["model_registry"].home), io.StringIO()
    list_datasets(home, MODEL, out)
    assert version.version in out.getvalue() and "INC-9" in out.getvalue()
    assert reproduce(home, MODEL, 2, out) == 0 and "ctr_logreg v2: reproduced" in out.getvalue()


def test_the_html_report_is_written_on_drifted_days_unless_every_day_or_none_is_asked_for(world):
    with dg.instance_for_test() as instance:
        for day in DAYS[:2]:
            assert drift_day(world, day, instance).success
        assert html_day(world, DAYS[1], instance, "all") is None  # no champion yet: nothing to compare against
        (bootstrap,), _ = sensor_requests(instance)
        assert retrain(bootstrap, instance, world).success
        for day in DAYS[1:]:
            meta = drift_day(world, day, instance).asset_materializations_for_node("drift_report")[0].metadata
            assert meta[f"{MODEL}/dataset_drift"].value is (day == DAYS[2]) and f"{MODEL}/report" not in meta
        assert html_day(world, DAYS[1], instance) is None  # a calm day: the numbers are in the metadata, no HTML
        assert html_day(world, DAYS[1], instance, "all").is_file()
        drifted = html_day(world, DAYS[2], instance)
        assert drifted.is_file() and drifted.parent.name == DAYS[2] and "Data Drift" in drifted.read_text()
        assert html_day(world, DAYS[2], instance, "none") is None
        with pytest.raises(Exception, match="html_report='weekly' is not one of drifted, all, none"):
            html_day(world, DAYS[2], instance, "weekly")


def test_a_dataset_failing_a_blocking_expectation_never_reaches_training_or_the_registry(world):
    bad = events(DAYS[1], 1, shifted=False)
    bad.loc[bad.index[:2000], "device"] = "smart-fridge"  # not a device the suite knows
    write_parquet_atomic(bad, partition_path(world["storage"], "model_events", DAYS[1]))
    with dg.instance_for_test() as instance:
        request = dg.RunRequest(partition_key=dg.MultiPartitionKey({"date": DAYS[1], "model": MODEL}),
                                tags={"ops/trigger": "bootstrap", "ops/window_start": DAYS[0]})
        result = retrain(request, instance, world)
        assert not result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["dataset_meets_expectations"] is False
        assert result.asset_materializations_for_node("candidate_model") == []
        client = world["model_registry"].client()
        name = world["model_registry"].spec(MODEL).registered_name
        assert client.search_model_versions(f"name='{name}'") == []


def bootstrap(world, instance):
    """Days 1-2 and the bootstrap retraining: v1 is the champion. Returns the bootstrap request."""
    drift_day(world, DAYS[0], instance)
    _, cursor = sensor_requests(instance)
    drift_day(world, DAYS[1], instance)
    [request], _ = sensor_requests(instance, cursor)
    assert retrain(request, instance, world).success
    return request


def test_re_running_a_retraining_partition_on_the_same_data_registers_no_duplicate(world):
    """Defect 9: the same dataset version, code and params used to register v2 (an exact copy) and
    promote it on the tie."""
    with dg.instance_for_test() as instance:
        request = bootstrap(world, instance)
        client = world["model_registry"].client()
        name = world["model_registry"].spec(MODEL).registered_name
        runs_before = len(client.search_runs([client.get_experiment_by_name(name).experiment_id]))

        again = retrain(request, instance, world)
        assert again.success
        assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == ["1"]
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
        assert len(client.search_runs([client.get_experiment_by_name(name).experiment_id])) == runs_before
        candidate = again.asset_materializations_for_node("candidate_model")[0].metadata
        assert candidate["reused"].value is True and candidate["model_version"].value == 1
        assert "v1 was trained on dataset version" in candidate["reuse_reason"].value
        evaluation = again.asset_materializations_for_node("model_evaluation")[0].metadata
        assert evaluation["decision"].value == "unchanged" and "already the champion" in evaluation["reason"].value


def test_a_deleted_registry_store_fails_loudly_instead_of_starting_a_new_registry(world):
    """Defect 4: with mlflow.db deleted, the next drift report said "no champion yet" and the sensor
    bootstrapped a new v1, orphaning the old versions, artifacts and dataset versions."""
    with dg.instance_for_test() as instance:
        bootstrap(world, instance)
        _, cursor = sensor_requests(instance)
        store = Path(world["model_registry"].home) / "mlflow" / "mlflow.db"
        store.unlink()
        result = dg.materialize(
            [drift_report, dg.AssetSpec("incidents", partitions_def=drift_report.partitions_def)],
            partition_key=DAYS[2], instance=instance, resources={k: world[k] for k in RESOURCES},
            selection=[drift_report], raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        message = str(failure.step_failure_data.error.to_string())
        assert "RegistryStoreError" in message and str(store) in message and "--new-registry" in message
        assert "dataset version(s)" in message and "model artifacts" in message
        assert not store.exists()  # nothing silently created in its place
        requests, _ = sensor_requests(instance, cursor)
        assert requests == []  # and no bootstrap of a new v1


def test_yesterdays_drift_report_is_an_input_through_the_io_manager():
    """The streak carried from yesterday comes as the `previous` input (a self-dependency one day back),
    not from a resource reading the IO manager's files by path."""
    assert drift_report.keys_by_input_name["previous"] == dg.AssetKey("drift_report")
    mapping = drift_report.get_partition_mapping(dg.AssetKey("drift_report"))
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and (mapping.start_offset, mapping.end_offset) == (-1, -1)


def test_a_days_report_waits_for_retraining_of_earlier_days_and_fails_clearly_when_it_never_ends(world, monkeypatch):
    import threading
    import time

    from ops_pipelines.defs.mlops import drift as drift_module

    def running_retraining(instance, day):
        run = dg.DagsterRun(job_name="retraining_job", run_id=f"retrain-{day}", status=dg.DagsterRunStatus.STARTED,
                            tags={"dagster/partition/date": day, "dagster/partition/model": MODEL})
        return instance.add_run(run)

    with dg.instance_for_test() as instance:
        running_retraining(instance, DAYS[1])  # the same day's own retraining is not waited for
        ended = running_retraining(instance, DAYS[0])

        def end_it_once_waited_for():
            """Cancel the earlier day's retraining once the report logged that it waits for it (not after a fixed
            delay: on a loaded machine the step may not have started by then)."""
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                reports = [r for r in instance.get_runs() if r.job_name != "retraining_job"]
                if any("waiting for 1 retraining run(s)" in (e.user_message or "") for r in reports for e in instance.all_logs(r.run_id)):
                    break
                time.sleep(0.2)
            instance.report_run_canceled(ended)

        ender = threading.Thread(target=end_it_once_waited_for)
        ender.start()
        try:
            result = drift_day(world, DAYS[1], instance)
        finally:
            ender.join()
        assert result.success
        meta = result.asset_materializations_for_node("drift_report")[0].metadata
        assert meta["waited_for_retraining"].value == f"retrain-{DAYS[0]}"
        assert instance.get_run_by_id(ended.run_id).status == dg.DagsterRunStatus.CANCELED

        # DAYS[1]'s retraining never ends: the next day's report gives up after the wait, saying why.
        monkeypatch.setattr(drift_module, "RETRAINING_WAIT_S", 0.5)
        failed = dg.materialize(
            [drift_report, dg.AssetSpec("incidents", partitions_def=drift_report.partitions_def)],
            partition_key=DAYS[2], instance=instance, resources={k: world[k] for k in RESOURCES},
            selection=[drift_report], raise_on_error=False)
        assert not failed.success
        (error,) = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert f"retrain-{DAYS[1]}" in str(error.step_failure_data.error) and "re-run 2026-03-04" in str(error.step_failure_data.error)
