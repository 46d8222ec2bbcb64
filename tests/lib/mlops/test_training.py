"""Training a candidate: deterministic fit, holdout metrics, MLflow run/dataset/model/registry records."""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.datasets import DatasetStore
from ops_pipelines.lib.mlops.selection import split_holdout
from ops_pipelines.lib.mlops.training import (
    SKOPS_TRUSTED_TYPES,
    check_split,
    fit_pipeline,
    holdout_metrics,
    pip_requirements,
    train_candidate,
)
from tests.lib.mlops.mlflow_helpers import (
    click_rows,
    mlflow_store,
    specs,
    store_dataset,
)

SPEC, GBDT = specs()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_training")
    with mlflow_store(root) as client:
        store = DatasetStore(root / "datasets")
        frame = click_rows(5000, seed=1)
        dataset = store_dataset(store, SPEC, frame)
        train, holdout = split_holdout(frame, SPEC)
        candidate = train_candidate(SPEC, dataset, train, holdout, client=client, tags={"ops.trigger": "test"})
        yield {"client": client, "store": store, "dataset": dataset, "train": train, "holdout": holdout,
               "candidate": candidate, "root": root}


def test_candidate_is_registered_with_its_metrics(world):
    client, cand = world["client"], world["candidate"]
    version = client.get_model_version(SPEC.registered_name, str(cand.version))
    assert version.run_id == cand.run_id
    run = client.get_run(cand.run_id)
    # The metrics in the registry are the model's real scores on the holdout.
    assert cand.metrics == holdout_metrics(cand.model, world["holdout"], SPEC)
    assert {k: run.data.metrics[k] for k in cand.metrics} == cand.metrics
    assert 0.6 < cand.metrics["holdout_roc_auc"] <= 1.0  # the click model has real signal
    assert cand.metrics["holdout_rows"] == len(world["holdout"])
    assert run.data.params["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert json.loads(run.data.params["features.categorical"]) == list(SPEC.categorical)
    assert run.data.params["dataset_version"] == world["dataset"].version
    assert run.data.tags["ops.dataset_version"] == world["dataset"].version


def test_model_version_carries_lineage_tags(world):
    tags = world["client"].get_model_version(SPEC.registered_name, str(world["candidate"].version)).tags
    dataset = world["dataset"]
    assert tags["ops.dataset_version"] == dataset.version
    assert tags["ops.dataset_path"] == str(dataset.path)
    lineage = json.loads(tags["ops.lineage"])
    assert lineage["excluded"] == dataset.lineage["excluded"]
    assert lineage["window"] == dataset.lineage["window"]
    assert "schema" not in lineage  # the manifest's bulk stays in the manifest
    assert tags["ops.code_version"].split("+cfg.")[1] and tags["ops.trigger"] == "test"
    assert int(tags["ops.train_rows"]) + int(tags["ops.holdout_rows"]) == dataset.rows


def test_code_version_is_the_config_entry_not_the_object():
    import dataclasses
    import re
    from importlib.metadata import version

    from ops_pipelines.lib.mlops.config import model_spec
    from ops_pipelines.lib.mlops.training import code_version

    # The same entry read again from models.json, and rebuilt with its params in another order: same version.
    reread = model_spec(SPEC.name)
    reordered = dataclasses.replace(SPEC, estimator_params=dict(reversed(list(SPEC.estimator_params.items()))))
    assert reread is not SPEC and reordered is not SPEC
    assert code_version(reread) == code_version(reordered) == code_version(SPEC)
    assert re.fullmatch(re.escape(version("ops_pipelines")) + r"\+cfg\.[0-9a-f]{12}", code_version(SPEC))
    # Any change to the entry gives another version: a param, the window, another model.
    tweaked = dataclasses.replace(SPEC, estimator_params={**SPEC.estimator_params, "C": 0.5})
    window = dataclasses.replace(SPEC, training=dataclasses.replace(SPEC.training, window_days=SPEC.training.window_days + 1))
    versions = {code_version(s) for s in (SPEC, tweaked, window, GBDT)}
    assert len(versions) == 4


def test_the_training_fingerprint_is_data_config_and_code(world, monkeypatch):
    import dataclasses

    from ops_pipelines.lib.mlops import training
    from ops_pipelines.lib.mlops.training import identical_version, training_fingerprint

    client, dataset = world["client"], world["dataset"]
    tags = client.get_model_version(SPEC.registered_name, str(world["candidate"].version)).tags
    assert tags["ops.training_fingerprint"] == training_fingerprint(SPEC, dataset.version)
    assert int(identical_version(client, SPEC, dataset.version).version) == world["candidate"].version
    assert identical_version(client, SPEC, "0" * 16) is None  # other data
    tweaked = dataclasses.replace(SPEC, estimator_params={**SPEC.estimator_params, "C": 0.5})
    assert identical_version(client, tweaked, dataset.version) is None  # other params
    monkeypatch.setattr(training, "pip_requirements", lambda: ["scikit-learn==0.0"])
    assert identical_version(client, SPEC, dataset.version) is None  # other library code


def test_logged_dataset_inputs_carry_source_and_digest(world):
    run = world["client"].get_run(world["candidate"].run_id)
    by_context = {}
    for item in run.inputs.dataset_inputs:
        tags = {t.key: t.value for t in item.tags}
        by_context[tags["mlflow.data.context"]] = (item.dataset, tags)
    assert set(by_context) == {"training", "evaluation"}
    for dataset, tags in by_context.values():
        assert json.loads(dataset.source)["uri"] == world["dataset"].uri
        assert dataset.name == f"{SPEC.name}@{world['dataset'].version}"
        assert tags["ops.dataset_version"] == world["dataset"].version
        assert len(dataset.digest) >= 8
    # Different rows, different digest.
    assert by_context["training"][0].digest != by_context["evaluation"][0].digest
    assert json.loads(by_context["training"][0].profile)["num_rows"] == len(world["train"])


def test_model_is_stored_with_skops_and_pinned_requirements(world):
    import mlflow

    client, cand = world["client"], world["candidate"]
    uri = client.get_model_version_download_uri(SPEC.registered_name, str(cand.version))
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(world["root"] / "dl"))
    from pathlib import Path

    import yaml

    mlmodel = yaml.safe_load((Path(local) / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert (Path(local) / "model.skops").exists() and not list(Path(local).glob("*.pkl"))
    requirements = (Path(local) / "requirements.txt").read_text().split()
    assert set(pip_requirements()) <= set(requirements)
    # Artifacts live under the artifact root we configured, never in the working directory.
    assert str(world["root"] / "artifacts") in client.get_experiment(client.get_run(cand.run_id).info.experiment_id).artifact_location


def test_model_loads_without_pickle(world, monkeypatch):
    import os

    import mlflow
    from mlflow.exceptions import MlflowException

    from ops_pipelines.lib.mlops.registry import load_version

    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    client, cand = world["client"], world["candidate"]
    loaded = load_version(client, SPEC.registered_name, cand.version)
    X = world["holdout"][list(SPEC.features)]
    np.testing.assert_array_equal(loaded.predict_proba(X), cand.model.predict_proba(X))
    # MLflow's own loader is closed while deserialization is off: the reason load_version exists.
    from ops_pipelines.lib.mlops.tracking import use_client

    use_client(client.tracking_uri)
    with pytest.raises(MlflowException, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        mlflow.sklearn.load_model(f"models:/{SPEC.registered_name}/{cand.version}")
    # A type outside our code's allow-list is refused, whatever the artifact says.
    monkeypatch.setattr("ops_pipelines.lib.mlops.training.SKOPS_TRUSTED_TYPES", ())
    with pytest.raises(ValueError, match="numpy.dtype"):
        load_version(client, SPEC.registered_name, cand.version)
    assert "numpy.dtype" in SKOPS_TRUSTED_TYPES


def test_fit_ignores_row_order_and_is_repeatable(world):
    train = world["train"]
    X = world["holdout"][list(SPEC.features)]
    reference = fit_pipeline(SPEC, train).predict_proba(X)
    shuffled = train.sample(frac=1.0, random_state=3)
    np.testing.assert_array_equal(fit_pipeline(SPEC, shuffled).predict_proba(X), reference)
    small = train.iloc[:1500]  # boosting is the slow fit; a smaller sample shows the same property
    np.testing.assert_array_equal(fit_pipeline(GBDT, small).predict_proba(X),
                                  fit_pipeline(GBDT, small.iloc[::-1]).predict_proba(X))


def test_other_timezone_gives_the_same_model(world):
    train = world["train"].copy()
    train["timestamp"] = train["timestamp"].dt.tz_convert("Europe/Berlin")
    X = world["holdout"][list(SPEC.features)]
    np.testing.assert_array_equal(fit_pipeline(SPEC, train).predict_proba(X), world["candidate"].model.predict_proba(X))


def test_missing_feature_values_are_imputed_and_duplicates_kept(world):
    train = world["train"].copy()
    train.loc[train.index[::10], "price"] = np.nan
    train.loc[train.index[::7], "device"] = None
    model = fit_pipeline(SPEC, train)
    scores = holdout_metrics(model, world["holdout"], SPEC)
    assert np.isfinite(scores["holdout_roc_auc"])
    # Duplicating every holdout row leaves the ranking metric unchanged and doubles the row count.
    doubled = pd.concat([world["holdout"], world["holdout"]])
    again = holdout_metrics(model, doubled, SPEC)
    assert again["holdout_roc_auc"] == pytest.approx(scores["holdout_roc_auc"], abs=1e-12)
    assert again["holdout_rows"] == 2 * scores["holdout_rows"]


def test_single_class_holdout_gives_undefined_ranking_metrics(world):
    holdout = world["holdout"][world["holdout"]["clicked"] == 0]
    scores = holdout_metrics(world["candidate"].model, holdout, SPEC)
    assert np.isnan(scores["holdout_roc_auc"]) and np.isnan(scores["holdout_average_precision"])
    assert np.isfinite(scores["holdout_log_loss"]) and scores["holdout_positive_rate"] == 0.0


def _spoil(frame, how):
    frame = frame.copy()
    if how == "missing_column":
        return frame.drop(columns=["price"])
    if how == "empty":
        return frame.iloc[:0]
    if how == "null_target":
        frame["clicked"] = frame["clicked"].astype(float)
        frame.loc[frame.index[0], "clicked"] = np.nan
    elif how == "bad_target":
        frame.loc[frame.index[0], "clicked"] = 2
    elif how == "inf_price":
        frame.loc[frame.index[0], "price"] = np.inf
    elif how == "text_price":
        frame["price"] = frame["price"].astype(object)
        frame.loc[frame.index[0], "price"] = "cheap"
    elif how == "naive_time":
        frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    elif how == "one_class":
        frame["clicked"] = 0
    return frame


@pytest.mark.parametrize("how", ["missing_column", "empty", "null_target", "bad_target", "inf_price",
                                 "text_price", "naive_time", "one_class"])
def test_bad_training_rows_fail_before_anything_is_logged(world, how):
    client = world["client"]
    before = len(client.search_model_versions(f"name='{SPEC.registered_name}'"))
    with pytest.raises(ValueError):
        train_candidate(SPEC, world["dataset"], _spoil(world["train"], how), world["holdout"], client=client)
    assert len(client.search_model_versions(f"name='{SPEC.registered_name}'")) == before


def test_holdout_older_than_training_rows_is_refused(world):
    with pytest.raises(ValueError, match="before the last training row"):
        check_split(world["holdout"], world["train"], SPEC)
    # Out-of-order rows inside each frame are fine: only the time ranges matter.
    check_split(world["train"].iloc[::-1], world["holdout"].iloc[::-1], SPEC)


def test_dataset_digest_covers_every_row_and_ignores_order(world):
    from ops_pipelines.lib.mlops.training import dataset_input

    big = click_rows(12_000, seed=9)  # more rows than MLflow's own digest looks at (10,000)
    digest = dataset_input(big, SPEC, world["dataset"]).digest
    assert dataset_input(big.sample(frac=1.0, random_state=2), SPEC, world["dataset"]).digest == digest
    late = big.copy()
    late.loc[late.index[-1], "price"] += 1.0
    assert dataset_input(late, SPEC, world["dataset"]).digest != digest
    shifted = big.assign(timestamp=big["timestamp"] + pd.Timedelta(seconds=1))  # MLflow's digest skips datetimes
    assert dataset_input(shifted, SPEC, world["dataset"]).digest != digest


def test_dataset_schema_shortcut_matches_full_inference(world):
    from mlflow.types.utils import _infer_schema

    from ops_pipelines.lib.mlops.training import canonical_rows, dataset_input

    frame = click_rows(3000, seed=10)
    frame.loc[frame.index[2500], "device"] = None
    frame.loc[frame.index[2600], "price"] = np.nan
    for rows in (frame, click_rows(500, seed=11)):
        assert dataset_input(rows, SPEC, world["dataset"]).schema == _infer_schema(canonical_rows(rows, SPEC))


def test_tracking_defaults_and_overrides(tmp_path, monkeypatch):
    from ops_pipelines.lib.mlops.tracking import (
        TRACKING_URI_ENV,
        default_artifact_root,
        default_tracking_uri,
    )

    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv("OPS_MLFLOW_ARTIFACT_ROOT", raising=False)
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert default_artifact_root(tmp_path) == tmp_path.resolve() / "mlflow" / "artifacts"
    monkeypatch.setenv(TRACKING_URI_ENV, "postgresql://u@db:5432/mlflow")
    assert default_tracking_uri(tmp_path) == "postgresql://u@db:5432/mlflow"


def test_configure_keeps_an_explicit_pickle_setting_and_writes_only_where_told(tmp_path, monkeypatch):
    import os

    from ops_pipelines.lib.mlops.tracking import (
        configure_mlflow,
        experiment_id,
        model_experiment,
    )

    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    client = configure_mlflow(f"sqlite:///{home}/mlflow/mlflow.db", home / "artifacts")
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "true"  # the user's choice stands
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    exp = experiment_id(client, "demo", home / "artifacts")
    assert experiment_id(client, "demo", home / "artifacts") == exp  # found, not created twice
    assert model_experiment(client, "demo") == exp
    assert client.get_experiment(exp).artifact_location == (home / "artifacts" / "demo").resolve().as_uri()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # nothing in the working directory
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    configure_mlflow(f"sqlite:///{home}/mlflow/mlflow.db", home / "artifacts")
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
