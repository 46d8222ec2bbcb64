"""Champion/challenger: the gate on a shared later window, slices, and the aliases and tags it leaves."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.datasets import DatasetStore
from ops_pipelines.lib.mlops.evaluation import (
    MIN_SLICE_ROWS,
    Evaluation,
    apply_decision,
    compare,
)
from ops_pipelines.lib.mlops.registry import (
    champion_version,
    dataset_version_of,
    load_version,
    version_by_alias,
)
from ops_pipelines.lib.mlops.selection import split_holdout
from ops_pipelines.lib.mlops.training import train_candidate
from tests.lib.mlops.mlflow_helpers import (
    Scores,
    click_rows,
    mlflow_store,
    shuffled_labels,
    specs,
    store_dataset,
)

SPEC, _ = specs()


def _window(n=2000, seed=5):
    rng = np.random.default_rng(seed)
    frame = click_rows(n, seed=seed)
    good = pd.Series(np.clip(frame["clicked"] * 0.3 + rng.random(n) * 0.7, 0, 1), index=frame.index)
    noise = pd.Series(rng.random(n), index=frame.index)
    return frame, good, noise


# ---- the gate, with stand-in models (no MLflow) ----

def test_better_candidate_passes_and_worse_is_rejected():
    window, good, noise = _window()
    better = compare(SPEC, Scores(good), Scores(noise), window)
    assert better.passed and better.delta > 0 and better.reason.startswith("Promoted")
    assert better.candidate_metric == pytest.approx(better.champion_metric + better.delta)
    worse = compare(SPEC, Scores(noise), Scores(good), window)
    assert not worse.passed and worse.delta < 0 and "Rejected" in worse.reason
    assert f"{worse.candidate_metric:.4f}" in worse.reason and f"{worse.champion_metric:.4f}" in worse.reason


def test_a_champion_fitted_on_an_older_feature_list_is_scored_on_its_own_columns():
    from ops_pipelines.lib.mlops.training import fit_pipeline

    window, _, _ = _window()
    older = dataclasses.replace(SPEC, numeric=(*SPEC.numeric, "extra_signal"))  # the config changed since
    rng = np.random.default_rng(3)
    train = click_rows(3000, seed=9).assign(extra_signal=lambda f: f["clicked"] + rng.normal(0, 0.5, len(f)))
    champion = fit_pipeline(older, train)
    candidate = fit_pipeline(SPEC, train)
    with pytest.raises(ValueError, match="extra_signal"):  # the window lacks the champion's column: named
        compare(SPEC, candidate, champion, window)
    window = window.assign(extra_signal=window["clicked"] + rng.normal(0, 0.5, len(window)))
    result = compare(SPEC, candidate, champion, window)
    assert result.champion_metric > result.candidate_metric  # the champion used its extra column
    assert not result.passed


def test_min_improvement_is_required():
    window, good, _ = _window()
    strict = dataclasses.replace(SPEC, promotion=dataclasses.replace(SPEC.promotion, min_improvement=0.01))
    same = compare(strict, Scores(good), Scores(good), window)
    assert same.delta == 0.0 and not same.passed and "+0.0100" in same.reason
    assert compare(SPEC, Scores(good), Scores(good), window).passed  # 0 >= 0 with the shipped config


def test_a_slice_that_drops_too_much_blocks_promotion():
    window, good, noise = _window()
    # Better everywhere except ios users, where the candidate is noise.
    candidate = good.where(window["device"] != "ios", noise)
    champion = good * 0.3 + noise * 0.7  # weaker overall, but informative on ios too
    ev = compare(SPEC, Scores(candidate), Scores(champion), window)
    ios = next(s for s in ev.slices if s["column"] == "device" and s["value"] == "ios")
    assert ios["delta"] < -SPEC.promotion.max_slice_drop
    assert ev.delta >= SPEC.promotion.min_improvement  # overall it would have passed
    assert not ev.passed and "device=ios" in ev.reason
    looser = dataclasses.replace(SPEC, promotion=dataclasses.replace(SPEC.promotion, max_slice_drop=1.0))
    blocked = compare(looser, Scores(candidate), Scores(champion), window)
    assert not blocked.passed and "disparity across device" in blocked.reason  # the bias gate sees it too
    looser = dataclasses.replace(looser, fairness=dataclasses.replace(SPEC.fairness, max_disparity_widening=1.0))
    assert compare(looser, Scores(candidate), Scores(champion), window).passed


def test_a_slice_drop_within_sampling_noise_does_not_block():
    import numpy as np

    rng = np.random.default_rng(11)
    n = 600  # a small slice: its ROC-AUC moves by several points between samples of the same world
    y = (rng.random(n) < 0.15).astype(int)
    signal = y + rng.normal(0, 1.2, n)
    champion = signal + rng.normal(0, 0.35, n)
    candidate = signal + rng.normal(0, 0.5, n)  # slightly noisier on this slice
    from ops_pipelines.lib.mlops.evaluation import improvement_upper_bound, metric_value

    drop = metric_value("roc_auc", y, champion) - metric_value("roc_auc", y, candidate)
    upper = improvement_upper_bound("roc_auc", y, candidate, champion)
    assert upper > -drop  # the interval's optimistic end is above the point estimate
    assert improvement_upper_bound("roc_auc", y, candidate, champion) == upper  # seeded: the same every time
    # A large, consistent loss stays a loss at 95% confidence.
    assert improvement_upper_bound("roc_auc", y, rng.normal(0, 1, n), champion) < -0.1


def test_small_one_class_and_missing_slices_are_listed_but_do_not_gate():
    window, good, _ = _window()
    window = window.copy()
    window.loc[window.index[:MIN_SLICE_ROWS - 1], "device"] = "tv"  # too few rows
    one_class = window.index[(window["clicked"] == 0).to_numpy()][:MIN_SLICE_ROWS + 50]
    window.loc[one_class, "device"] = "watch"  # enough rows, no clicks
    window.loc[window.index[-150:], "user_segment"] = np.nan
    candidate = good.copy()
    candidate[window["device"].isin(["tv", "watch"])] = 1 - good  # awful there, but those slices do not count
    ev = compare(SPEC, Scores(candidate), Scores(good), window)
    by_value = {(s["column"], s["value"]): s for s in ev.slices}
    assert "fewer than" in by_value[("device", "tv")]["skipped"]
    assert "one class" in by_value[("device", "watch")]["skipped"]
    assert by_value[("device", "tv")]["delta"] is None and by_value[("device", "watch")]["delta"] is None
    assert by_value[("user_segment", "<missing>")]["rows"] == 150
    assert sum(s["rows"] for s in ev.slices if s["column"] == "device") == len(window)


def test_no_champion_bootstraps_only_with_a_finite_metric():
    window, good, _ = _window()
    first = compare(SPEC, Scores(good), None, window)
    assert first.passed and first.champion_metric is None and first.delta is None
    assert "No champion yet" in first.reason
    all_zero = window[window["clicked"] == 0]
    undefined = compare(SPEC, Scores(good), None, all_zero)
    assert math.isnan(undefined.candidate_metric) and not undefined.passed
    with_champion = compare(SPEC, Scores(good), Scores(good), all_zero)
    assert not with_champion.passed and "undefined" in with_champion.reason


def test_log_loss_counts_lower_as_better():
    window, _, noise = _window()
    spec = dataclasses.replace(SPEC, promotion=dataclasses.replace(SPEC.promotion, metric="log_loss", slices=()))
    calibrated = pd.Series(np.where(window["clicked"] == 1, 0.7, 0.2), index=window.index)
    ev = compare(spec, Scores(calibrated), Scores(noise), window)
    assert ev.candidate_metric < ev.champion_metric and ev.delta > 0 and ev.passed


def test_bad_windows_raise():
    window, good, noise = _window()
    with pytest.raises(ValueError, match="empty"):
        compare(SPEC, Scores(good), Scores(noise), window.iloc[:0])
    with pytest.raises(ValueError, match="device"):
        compare(SPEC, Scores(good), Scores(noise), window.drop(columns=["device"]))
    spoiled = window.copy()
    spoiled.loc[spoiled.index[0], "price"] = -np.inf
    with pytest.raises(ValueError, match="infinite"):
        compare(SPEC, Scores(good), Scores(noise), spoiled)
    with pytest.raises(ValueError, match="timezone"):
        compare(SPEC, Scores(good), Scores(noise), window.assign(timestamp=window["timestamp"].dt.tz_localize(None)))


def test_window_order_and_duplicates_do_not_change_the_verdict():
    window, good, noise = _window()
    ev = compare(SPEC, Scores(good), Scores(noise), window)
    shuffled = window.sample(frac=1.0, random_state=1)
    again = compare(SPEC, Scores(good), Scores(noise), shuffled)
    assert again.delta == pytest.approx(ev.delta, abs=1e-12) and again.passed == ev.passed
    doubled = pd.concat([window, window])
    twice = compare(SPEC, Scores(pd.concat([good, good]).groupby(level=0).first()),
                    Scores(pd.concat([noise, noise]).groupby(level=0).first()), doubled)
    assert twice.rows == 2 * ev.rows and twice.delta == pytest.approx(ev.delta, abs=1e-12)


def test_metadata_is_flat():
    window, good, noise = _window()
    meta = compare(SPEC, Scores(good), Scores(noise), window, champion_version=4).to_metadata()
    assert all(isinstance(v, (int, float, str, bool)) for v in meta.values())
    assert meta["champion_version"] == 4 and meta["passed"] is True and "worst_slice" in meta
    boot = compare(SPEC, Scores(good), None, window).to_metadata()
    assert "champion_metric" not in boot and "delta" not in boot


# ---- the registry, with real MLflow ----

@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_registry")
    with mlflow_store(root) as client:
        store = DatasetStore(root / "datasets")
        frame = click_rows(5000, seed=2)
        train, holdout = split_holdout(frame, SPEC)
        yield {"client": client, "store": store, "frame": frame, "train": train, "holdout": holdout}


def _train_and_decide(registry, train):
    client, spec = registry["client"], SPEC
    dataset = store_dataset(registry["store"], spec, pd.concat([train, registry["holdout"]], ignore_index=True))
    cand = train_candidate(spec, dataset, train, registry["holdout"], client=client)
    champ = champion_version(client, spec.registered_name)
    champ_model = load_version(client, spec.registered_name, champ.version) if champ else None
    ev = compare(spec, cand.model, champ_model, registry["holdout"],
                 champion_version=int(champ.version) if champ else None)
    return cand, ev, apply_decision(client, spec, cand.version, ev)


def test_champion_lifecycle(registry):
    client, name = registry["client"], SPEC.registered_name
    assert champion_version(client, name) is None  # no registered model yet

    # 1. A chance-level model still bootstraps the registry: there is nothing to beat.
    weak, ev1, decision1 = _train_and_decide(registry, shuffled_labels(registry["train"], seed=1))
    assert decision1 == "promoted" and ev1.champion_metric is None
    assert int(champion_version(client, name).version) == weak.version
    tags1 = client.get_model_version(name, str(weak.version)).tags
    assert tags1["ops.decision"] == "promoted" and tags1["ops.compared_with"] == "none"

    # 2. A real model beats it on the shared holdout and takes the alias.
    good, ev2, decision2 = _train_and_decide(registry, registry["train"])
    assert decision2 == "promoted" and ev2.delta > 0
    assert int(champion_version(client, name).version) == good.version
    tags2 = client.get_model_version(name, str(good.version)).tags
    assert tags2["ops.compared_with"] == str(weak.version)
    assert client.get_model_version(name, str(weak.version)).tags["ops.replaced_by"] == str(good.version)
    assert json.loads(tags2["ops.evaluation"])["delta"] == pytest.approx(ev2.delta)

    # 3. A worse one becomes challenger; the champion stays, the reason is recorded.
    bad, ev3, decision3 = _train_and_decide(registry, shuffled_labels(registry["train"], seed=2))
    assert decision3 == "rejected" and not ev3.passed
    assert int(champion_version(client, name).version) == good.version
    assert int(version_by_alias(client, name, "challenger").version) == bad.version
    tags3 = client.get_model_version(name, str(bad.version)).tags
    assert tags3["ops.decision"] == "rejected" and tags3["ops.decision_reason"] == ev3.reason
    assert tags3["ops.compared_with"] == str(good.version) and ev3.reason.startswith("Rejected")
    # Every version keeps its number and its dataset lineage.
    assert len({weak.version, good.version, bad.version}) == 3
    assert dataset_version_of(client, name, weak.version) != dataset_version_of(client, name, good.version)


def test_decision_refuses_a_stale_evaluation(registry):
    client = registry["client"]
    current = champion_version(client, SPEC.registered_name)
    assert current is not None, "runs after test_champion_lifecycle"
    stale = Evaluation(metric="roc_auc", rows=10, candidate_metric=0.9, champion_metric=0.5, delta=0.4,
                       passed=True, reason="x", champion_version=int(current.version) + 100)
    with pytest.raises(RuntimeError, match="changed since the evaluation"):
        apply_decision(client, SPEC, int(current.version), stale)
    assert champion_version(client, SPEC.registered_name).version == current.version


def test_dataset_version_of_unknown_model_version_tag(registry):
    client = registry["client"]
    v = champion_version(client, SPEC.registered_name)
    client.delete_model_version_tag(SPEC.registered_name, v.version, "ops.dataset_version")
    try:
        with pytest.raises(KeyError, match="ops.dataset_version"):
            dataset_version_of(client, SPEC.registered_name, v.version)
    finally:
        client.set_model_version_tag(SPEC.registered_name, v.version, "ops.dataset_version", v.tags["ops.dataset_version"])


@pytest.mark.parametrize("decimals", [1, 2, 6])  # 1 decimal: most scores tie
def test_rank_roc_auc_equals_sklearns_with_and_without_ties(decimals):
    from sklearn.metrics import roc_auc_score

    from ops_pipelines.lib.mlops.evaluation import metric_value

    rng = np.random.default_rng(decimals)
    for n in (2, 15, 400, 5000):
        y = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        scores = np.round(rng.random(n) + 0.4 * y, decimals)
        assert metric_value("roc_auc", y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert metric_value("roc_auc", np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert math.isnan(metric_value("roc_auc", np.ones(5), rng.random(5)))
