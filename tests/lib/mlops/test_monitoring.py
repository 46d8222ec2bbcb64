"""The retraining decision: bootstrap when there is no champion, one run key per drift event."""

import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import load_models
from ops_pipelines.lib.mlops.monitoring import ModelDay, decide, performance_decay

SPEC = {s.name: s for s in load_models()}["ctr_logreg"]
DAY = pd.Timestamp("2026-03-12")


def day_result(**kw) -> ModelDay:
    return ModelDay(model=SPEC.name, day=DAY.strftime("%Y-%m-%d"), rows=100, **kw)


def test_no_champion_waits_for_a_full_window_then_bootstraps():
    early = decide(SPEC, DAY, day_result(), None, days_available=SPEC.training.window_days - 1)
    assert early.retrain_key == "" and "no champion" in early.note
    ready = decide(SPEC, DAY, day_result(), None, days_available=SPEC.training.window_days)
    assert ready.retrain_reason == "bootstrap"
    assert ready.retrain_key == f"{SPEC.name}:bootstrap:2026-03-12"
    first = DAY - pd.Timedelta(days=SPEC.training.window_days - 1)
    assert ready.window_start == first.strftime("%Y-%m-%d")


def test_no_drift_no_decay_means_no_retraining():
    quiet = decide(SPEC, DAY, day_result(champion_version=1), None, days_available=9)
    assert quiet.retrain_key == "" and quiet.retrain_reason == ""


def test_a_drift_event_keeps_its_key_while_it_lasts_and_trains_on_data_since_it_began():
    first = decide(SPEC, DAY, day_result(champion_version=3, dataset_drift=True), None, 9)
    assert first.retrain_reason == "drift" and first.window_start == "2026-03-12"
    nxt = DAY + pd.Timedelta(days=1)
    second = decide(SPEC, nxt, ModelDay(SPEC.name, "2026-03-13", 100, champion_version=3, dataset_drift=True),
                    first.to_dict(), 9)
    assert second.retrain_key == first.retrain_key == f"{SPEC.name}:v3:2026-03-12"


def test_a_long_event_under_the_same_champion_starts_again_after_retry_after_days():
    import dataclasses

    spec = dataclasses.replace(SPEC, drift=dataclasses.replace(SPEC.drift, retry_after_days=3),
                               training=dataclasses.replace(SPEC.training, min_drift_window_days=2))
    previous, keys, starts = None, [], []
    for k in range(7):  # drifting every day, the champion never replaced (its retrainings were rejected)
        day = DAY + pd.Timedelta(days=k)
        result = decide(spec, day, ModelDay(SPEC.name, day.strftime("%Y-%m-%d"), 100, champion_version=3,
                                            dataset_drift=True), previous, 9)
        previous = result.to_dict()
        keys.append(result.retrain_key)
        starts.append(result.window_start)
    assert keys == [f"{SPEC.name}:v3:2026-03-12"] * 3 + [f"{SPEC.name}:v3:2026-03-15"] * 3 + [f"{SPEC.name}:v3:2026-03-18"]
    # A new event trains on its days, but at least min_drift_window_days (the day before too).
    assert starts[0] == "2026-03-11" and starts[3] == "2026-03-14"
    # Without retry_after_days (the default) the event keeps its key however long it lasts.
    assert SPEC.drift.retry_after_days is None


def test_a_new_champion_or_a_quiet_day_starts_a_new_event():
    first = decide(SPEC, DAY, day_result(champion_version=3, dataset_drift=True), None, 9).to_dict()
    nxt = DAY + pd.Timedelta(days=1)
    new_champion = decide(SPEC, nxt, ModelDay(SPEC.name, "2026-03-13", 1, champion_version=4, dataset_drift=True), first, 9)
    assert new_champion.retrain_key == f"{SPEC.name}:v4:2026-03-13"
    quiet = decide(SPEC, DAY, day_result(champion_version=3), None, 9).to_dict()
    again = decide(SPEC, nxt, ModelDay(SPEC.name, "2026-03-13", 1, champion_version=3, dataset_drift=True), quiet, 9)
    assert again.retrain_key == f"{SPEC.name}:v3:2026-03-13"


@pytest.mark.parametrize(("performance", "baseline", "expected"), [
    (0.70, 0.73, False),  # a drop of 0.03 is within max_performance_drop (0.05)
    (0.60, 0.73, True),
    (None, 0.73, False),  # a day without both classes cannot say
    (0.60, float("nan"), False),
])
def test_performance_decay_against_the_champions_holdout(performance, baseline, expected):
    assert performance_decay(SPEC, performance, baseline) is expected
    decayed = decide(SPEC, DAY, day_result(champion_version=2, performance_decay=True), None, 9)
    assert decayed.retrain_reason == "performance_decay"


def test_a_day_with_too_few_labels_of_a_class_gives_no_performance():
    from ops_pipelines.lib.mlops.monitoring import MIN_CLASS_ROWS, metric_value

    y = pd.Series([1] * (MIN_CLASS_ROWS - 1) + [0] * 500)
    scores = pd.Series(range(len(y)), dtype=float)
    assert metric_value("roc_auc", y, scores) is None  # noise, not a reason to retrain
    y_enough = pd.Series([1] * MIN_CLASS_ROWS + [0] * 500)
    assert metric_value("roc_auc", y_enough, pd.Series(range(len(y_enough)), dtype=float)) == 0.0
