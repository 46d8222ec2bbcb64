"""Explanations: linear contributions are coef x value, Shapley values add up, permutation importance ranks."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import model_spec
from ops_pipelines.lib.mlops.explain import (
    Importance,
    explain_row,
    global_importance,
    importance_change,
    importance_table,
    shapley_contributions,
)
from ops_pipelines.lib.mlops.selection import split_holdout
from ops_pipelines.lib.mlops.training import fit_pipeline
from tests.lib.mlops.mlflow_helpers import click_rows


@pytest.fixture(scope="module")
def logreg():
    spec = model_spec("ctr_logreg")
    rows = click_rows(4000, seed=3)
    train, holdout = split_holdout(rows, spec)
    return spec, fit_pipeline(spec, train), train, holdout


def test_a_linear_models_contributions_are_coef_times_value(logreg):
    spec, model, train, holdout = logreg
    row = holdout.iloc[[7]]
    found = explain_row(model, row, spec)
    names = list(model.named_steps["features"].get_feature_names_out())
    coef = model.named_steps["model"].coef_[0]
    # By hand: the number the estimator sees is (x - mean) / std over the training rows (population std),
    # a category is 1 in its own one-hot column and 0 elsewhere.
    for col in spec.numeric:
        x = float(row[col].iloc[0])
        values = train[col].to_numpy(dtype=float)
        expected = coef[names.index(f"num__{col}")] * (x - values.mean()) / values.std()
        assert found.contributions[col] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    for col in spec.categorical:
        expected = coef[names.index(f"cat__{col}_{row[col].iloc[0]}")]
        assert found.contributions[col] == pytest.approx(expected, rel=1e-12)
    p = model.predict_proba(row[list(spec.features)])[0, 1]
    assert found.score == pytest.approx(p)
    assert found.base == pytest.approx(model.named_steps["model"].intercept_[0])
    assert found.base + sum(found.contributions.values()) == pytest.approx(math.log(p / (1 - p)), abs=1e-9)
    assert found.method.startswith("linear")
    top = found.top(2)
    assert abs(top[0][2]) >= abs(top[1][2])


def test_shapley_values_of_a_linear_model_are_coef_times_the_distance_to_the_background_mean(logreg):
    spec, model, train, holdout = logreg
    row, background = holdout.iloc[[11]][list(spec.features)], train.iloc[:60][list(spec.features)]
    base, phi = shapley_contributions(model, row, background)
    pre, coef = model.named_steps["features"], model.named_steps["model"].coef_[0]
    z, z_bg = pre.transform(row)[0], pre.transform(background)
    names = list(pre.get_feature_names_out())
    for col in spec.features:
        idx = [i for i, n in enumerate(names) if n == f"num__{col}" or n.startswith(f"cat__{col}_")]
        assert phi[col] == pytest.approx(float(np.dot(coef[idx], z[idx] - z_bg[:, idx].mean(axis=0))), abs=1e-9)
    assert base == pytest.approx(float(np.mean(model.decision_function(background))), abs=1e-9)


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"timestamp": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"),
                          "signal": rng.normal(size=n), "noise": rng.normal(size=n), "flat": np.ones(n)})
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-2.5 * frame["signal"]))).astype(int)
    return frame


@pytest.mark.parametrize("estimator", ["sklearn.linear_model.LogisticRegression",
                                       "sklearn.ensemble.HistGradientBoostingClassifier"])
def test_permutation_importance_ranks_the_informative_feature_above_noise(estimator):
    spec = dataclasses.replace(model_spec("ctr_logreg"), numeric=("signal", "noise", "flat"), categorical=(), target="y",
                               estimator_class=estimator, estimator_params={"random_state": 0}, keys=())
    model = fit_pipeline(spec, synthetic(3000, 1))
    found = global_importance(model, synthetic(2000, 2), spec)
    assert found.metric == "roc_auc" and found.rows == 2000
    assert found.ranked()[0][0] == "signal"
    assert found.mean["signal"] > 0.2  # shuffling it takes the ROC-AUC from ~0.8 to ~0.5
    assert abs(found.mean["noise"]) < 0.02 and found.mean["flat"] == 0.0
    assert global_importance(model, synthetic(2000, 2), spec).to_dict() == found.to_dict()  # seeded
    assert Importance.from_dict(found.to_dict()) == found
    assert "█" in importance_table(found).splitlines()[2]  # the top row has the longest bar


def test_tree_shapley_values_add_up_and_give_nothing_to_a_column_that_never_changes():
    spec = dataclasses.replace(model_spec("ctr_logreg"), numeric=("signal", "noise", "flat"), categorical=(), target="y",
                               estimator_class="sklearn.ensemble.HistGradientBoostingClassifier",
                               estimator_params={"random_state": 0}, keys=())
    frame = synthetic(3000, 1)
    model = fit_pipeline(spec, frame)
    found = explain_row(model, synthetic(5, 9).iloc[[2]], spec, background=frame.iloc[:80])
    assert found.base + sum(found.contributions.values()) == pytest.approx(found.log_odds, abs=1e-9)
    assert found.contributions["flat"] == 0.0
    assert found.method.startswith("interventional shapley (80")
    with pytest.raises(ValueError, match="background"):
        explain_row(model, frame.iloc[[0]], spec)
    with pytest.raises(ValueError, match=r"lacks the model's input columns \['noise'\]"):
        explain_row(model, frame.iloc[[0]].drop(columns="noise"), spec, background=frame.iloc[:80])


def test_importance_change_lists_both_versions_columns():
    cand = Importance("roc_auc", 10, 5, {"a": 0.3, "b": 0.1})
    champ = Importance("roc_auc", 10, 5, {"a": 0.1, "c": 0.2})
    rows = importance_change(cand, champ)
    assert [r["feature"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["change"] == pytest.approx(0.2) and rows[1]["change"] is None and rows[2]["candidate"] is None
    assert [r["champion"] for r in importance_change(cand, None)] == [None, None]
