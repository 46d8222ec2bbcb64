"""Explainability per model version through Dagster and the command line.

The click world of test_mlops_assets with both click models: every registered version gets its permutation
importance in MLflow (artifact and metrics) and in the candidate's metadata, `model_evaluation` shows the
change against the champion, `prediction_log` records what each version served, and `ops-pipelines explain`
explains a given row and a logged prediction (traced to the version that served it), with one-line errors.
"""

import json
import math

import dagster as dg
import pandas as pd
import pytest

from ops_pipelines import settings
from ops_pipelines.cli import main
from ops_pipelines.defs.mlops.drift import drift_report
from ops_pipelines.defs.mlops.predictions import prediction_log
from ops_pipelines.io.parquet import (
    ParquetIOManager,
    StoredPartitions,
    partition_path,
    write_parquet_atomic,
)
from ops_pipelines.lib.mlops.explain import IMPORTANCE_ARTIFACT
from ops_pipelines.lib.platform.home import init_home
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.model_registry import ModelRegistry
from ops_pipelines.resources.state_store import StateStore
from ops_pipelines.settings import ASSETS_DIR
from tests.defs.test_mlops_assets import DAYS, RESOURCES, drift_day, events, retrain, sensor_requests

MODELS = ("ctr_logreg", "ctr_gbdt")


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    """Bootstrap both models (v1), log the shift day's predictions (served by v1), retrain on the shift (v2)."""
    tmp = tmp_path_factory.mktemp("explain")
    storage = tmp / "home" / "storage"
    for i, day in enumerate(DAYS):
        write_parquet_atomic(events(day, i, shifted=i == 2, n=4000), partition_path(storage, "model_events", day))
        write_parquet_atomic(pd.DataFrame({"incident_id": pd.Series(dtype=str), "start": pd.Series(dtype="datetime64[ns, UTC]"),
                                           "end": pd.Series(dtype="datetime64[ns, UTC]")}),
                             partition_path(storage, "incidents", day))
    raw = json.loads((ASSETS_DIR / "mlops" / "models.json").read_text())
    specs = [m for m in raw["models"] if m["name"] in MODELS]
    for spec in specs:
        spec["training"] = {"window_days": 2, "holdout_share": 0.25, "min_rows": 1000}
    (tmp / "models.json").write_text(json.dumps({"models": specs}))
    init_home(tmp / "home")
    world = {"model_registry": ModelRegistry(models_path=str(tmp / "models.json"), home=str(tmp / "home")),
             "dataset_store": DatasetStore(home=str(tmp / "home")),
             "stored_partitions": StoredPartitions(base_dir=str(storage)),
             "io_manager": ParquetIOManager(base_dir=str(storage)),
             "state_store": StateStore(root=str(tmp / "state"))}
    runs = {}
    with dg.instance_for_test() as instance:
        drift_day(world, DAYS[0], instance)
        _, cursor = sensor_requests(instance)
        drift_day(world, DAYS[1], instance)
        requests, cursor = sensor_requests(instance, cursor)
        runs["bootstrap"] = {r.partition_key.keys_by_dimension["model"]: retrain(r, instance, world) for r in requests}
        drift_day(world, DAYS[2], instance)
        runs["log"] = dg.materialize([prediction_log, dg.AssetSpec("drift_report", partitions_def=prediction_log.partitions_def)],
                                     partition_key=DAYS[2], instance=instance, selection=[prediction_log],
                                     resources={k: world[k] for k in RESOURCES})
        requests, _ = sensor_requests(instance, cursor)
        runs["drift"] = {r.partition_key.keys_by_dimension["model"]: retrain(r, instance, world)
                         for r in requests if r.partition_key.keys_by_dimension["model"] == "ctr_logreg"}
    return {**world, "home": tmp / "home", "storage": storage, "runs": runs}


def test_every_registered_version_has_its_importance_in_mlflow_and_dagster(explained):
    runs = explained["runs"]
    assert set(runs["bootstrap"]) == set(MODELS) and all(r.success for r in runs["bootstrap"].values())
    assert runs["drift"]["ctr_logreg"].success
    client = explained["model_registry"].client()
    for result in [*runs["bootstrap"].values(), runs["drift"]["ctr_logreg"]]:
        meta = result.asset_materializations_for_node("candidate_model")[0].metadata
        table = meta["importance"].value
        assert table.startswith("| feature | roc_auc drop | std |") and "█" in table
        run = client.get_run(meta["mlflow_run_id"].value)
        features = {"position", "item_popularity", "price", "category", "user_segment", "device", "country"}
        assert {k.removeprefix("importance.") for k in run.data.metrics if k.startswith("importance.")} == features
        assert IMPORTANCE_ARTIFACT in [a.path for a in client.list_artifacts(run.info.run_id, "explain")]
        # The world's clicks follow position, popularity and price; country and device do not matter.
        ranked = sorted(features, key=lambda f: -run.data.metrics[f"importance.{f}"])
        assert meta["top_feature"].value in ("position", "item_popularity", "price") and ranked[0] == meta["top_feature"].value
        assert run.data.metrics["importance.country"] < run.data.metrics["importance.item_popularity"]


def test_model_evaluation_shows_the_change_in_importance_against_the_champion(explained):
    bootstrap = explained["runs"]["bootstrap"]["ctr_logreg"].asset_materializations_for_node("model_evaluation")[0]
    assert "| feature | champion | candidate | change |" in bootstrap.metadata["importance_change"].value
    assert "| - |" in bootstrap.metadata["importance_change"].value  # no champion to compare with
    shift = explained["runs"]["drift"]["ctr_logreg"].asset_materializations_for_node("model_evaluation")[0]
    lines = shift.metadata["importance_change"].value.splitlines()
    assert len(lines) == 2 + 7
    popularity = next(line for line in lines if line.startswith("| item_popularity |"))
    champion, candidate, change = (float(c) for c in popularity.strip("| ").split(" | ")[1:])
    assert change == pytest.approx(candidate - champion, abs=2e-4)


def test_the_prediction_log_records_what_each_version_served(explained):
    assert explained["runs"]["log"].success
    log = pd.read_parquet(partition_path(explained["storage"], "prediction_log", DAYS[2]))
    day = pd.read_parquet(partition_path(explained["storage"], "model_events", DAYS[2]))
    assert sorted(log["model"].unique()) == sorted(MODELS)
    for model in MODELS:
        mine = log[log["model"] == model]
        assert sorted(mine["event_id"]) == sorted(day["event_id"]) and set(mine["version"]) == {1}
        assert mine["score"].between(0, 1).all()


def run_cli(monkeypatch, capsys, explained, *args):
    monkeypatch.setenv(settings.HOME_ENV, str(explained["home"]))
    code = main(["explain", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_explain_a_row_with_the_champion(explained, monkeypatch, capsys, tmp_path):
    row = {"position": 2, "item_popularity": 0.9, "price": 15.0, "category": "books", "user_segment": "premium",
           "device": "mobile", "country": "DE"}
    out_json = tmp_path / "row.json"
    code, out, err = run_cli(monkeypatch, capsys, explained, "--model", "ctr_logreg", "--row", json.dumps(row),
                             "--json", str(out_json))
    assert code == 0, err
    result = json.loads(out_json.read_text())
    client = explained["model_registry"].client()
    champion = client.get_model_version_by_alias("ops_pipelines.ctr_logreg", "champion")
    assert result["version"] == int(champion.version) and result["served_by"] == "champion"
    assert result["dataset_version"] == champion.tags["ops.dataset_version"]
    model = explained["model_registry"].load("ctr_logreg", result["version"])
    p = model.predict_proba(pd.DataFrame([row])[list(model.feature_names_in_)])[0, 1]
    assert result["score"] == pytest.approx(p)
    assert result["method"] == "linear: coef x value" and result["event"] is None
    assert [c["feature"] for c in result["contributions"]][0] in out.splitlines()[3]
    assert result["base_log_odds"] + sum(c["contribution"] for c in result["contributions"]) == pytest.approx(
        math.log(p / (1 - p)), abs=1e-9)
    assert f"score {p:.4g}" in out.splitlines()[0]


def test_explain_a_logged_prediction_traced_to_the_version_that_served_it(explained, monkeypatch, capsys, tmp_path):
    log = pd.read_parquet(partition_path(explained["storage"], "prediction_log", DAYS[2]))
    for model in MODELS:
        event = log[log["model"] == model].iloc[123]
        out_json = tmp_path / f"{model}.json"
        code, out, err = run_cli(monkeypatch, capsys, explained, "--model", model, "--event-id", event["event_id"],
                                 "--json", str(out_json))
        assert code == 0, err
        result = json.loads(out_json.read_text())
        # Served by v1 on the shift day, though ctr_logreg has a v2 since.
        assert result["version"] == 1 and result["served_by"] == "served the event"
        assert result["event"]["served_version"] == 1 and result["event"]["day"] == DAYS[2]
        assert result["score"] == pytest.approx(float(event["score"]), abs=1e-12)
        assert result["event"]["logged_score"] == pytest.approx(float(event["score"]), abs=1e-12)
        assert result["log_odds"] == pytest.approx(
            result["base_log_odds"] + sum(c["contribution"] for c in result["contributions"]), abs=1e-9)
        assert result["method"].startswith("linear" if model == "ctr_logreg" else "interventional shapley (100 ")
        assert f"event {event['event_id']}" in out and "differs" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "nope", "--row", "{}"], "unknown model 'nope'; configured:"),
    (["--model", "ctr_logreg", "--version", "9", "--row", json.dumps({
        "position": 1, "item_popularity": 0.5, "price": 9.0, "category": "books", "user_segment": "premium",
        "device": "mobile", "country": "DE"})], "ctr_logreg has no version 9 (v1, v2)"),
    (["--model", "ctr_logreg", "--row", "{position: 1"], "--row is not valid JSON"),
    (["--model", "ctr_logreg", "--row", "[1, 2]"], "--row must be a JSON object"),
    (["--model", "ctr_logreg", "--row", '{"position": 1}'], "--row lacks the model's input columns"),
    (["--model", "ctr_logreg", "--row", json.dumps({
        "position": "first", "item_popularity": 0.5, "price": 9.0, "category": "books", "user_segment": "premium",
        "device": "mobile", "country": "DE"})], "column 'position' must be a number"),
    (["--model", "ctr_gbdt", "--event-id", "ev-nope"], "no logged prediction of ctr_gbdt with event id 'ev-nope'"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(explained, monkeypatch, capsys, args, message):
    code, out, err = run_cli(monkeypatch, capsys, explained, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {message}") or message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_no_data_home_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path / "missing"))
    assert main(["explain", "--model", "ctr_logreg", "--event-id", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no data home at") and len(err.strip().splitlines()) == 1


def test_row_and_event_id_are_exclusive(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["explain", "--model", "ctr_logreg", "--row", "{}", "--event-id", "x"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_the_log_asset_is_daily_and_reads_the_drift_report():
    assert prediction_log.keys_by_input_name["drift_report"] == dg.AssetKey("drift_report")
    assert prediction_log.partitions_def == drift_report.partitions_def


def test_explain_a_logged_prediction_with_another_version_says_so(explained, monkeypatch, capsys):
    log = pd.read_parquet(partition_path(explained["storage"], "prediction_log", DAYS[2]))
    event = log[log["model"] == "ctr_logreg"].iloc[5]
    code, out, err = run_cli(monkeypatch, capsys, explained, "--model", "ctr_logreg", "--version", "2",
                             "--event-id", event["event_id"])
    assert code == 0, err
    assert out.startswith("ctr_logreg v2 (requested;") and "served by v1" in out
    assert "(explained with v2, not the version that served it)" in out
