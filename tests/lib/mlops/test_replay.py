"""Replaying a labelled stream through the product's monitoring and retraining decisions."""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import _spec
from ops_pipelines.lib.mlops.replay import load_stream, load_streams, replay_model

CHANGE_DAY = 20
MODEL = {
    "name": "toy", "source": "toy", "time_column": "timestamp",
    "features": {"numeric": ["x1", "x2"], "categorical": []}, "target": "y",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 200}},
    "training": {"window_days": 5, "holdout_share": 0.25, "min_rows": 150, "min_drift_window_days": 1},
    "drift": {"drift_share": 1.0, "performance_metric": "accuracy", "max_performance_drop": 0.1},
    "promotion": {"metric": "accuracy", "min_improvement": 0.0, "max_slice_drop": 0.1, "slices": []},
    "evaluation": {"min_labels_per_class": 30, "max_window_days": 3},
}


def toy_stream(days: int = 40, per_day: int = 200) -> pd.DataFrame:
    """y = x1 > x2 until CHANGE_DAY, then the opposite; the features never change (a concept change)."""
    rng = np.random.default_rng(0)
    n = days * per_day
    x = rng.random((n, 2))
    day = np.arange(n) // per_day
    y = np.where(day < CHANGE_DAY, x[:, 0] > x[:, 1], x[:, 0] < x[:, 1]).astype(int)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * (86_400 / per_day), unit="s")
    return pd.DataFrame({"timestamp": times, "x1": x[:, 0], "x2": x[:, 1], "y": y})


def test_drift_policy_retrains_after_a_concept_change_and_less_often_than_weekly():
    spec, frame = _spec(MODEL), toy_stream()
    drift, never, weekly = (replay_model(frame, spec, p) for p in ("drift", "never", "weekly"))
    change = (pd.Timestamp("2026-01-01") + pd.Timedelta(days=CHANGE_DAY)).strftime("%Y-%m-%d")
    after = [d for d in never.days if d > change]
    # The bootstrap model is wrong after the change; performance decay asks for one retraining, on the change
    # day's event, and the gate promotes the candidate trained on the new concept.
    assert never.summary(after)["accuracy"] < 0.2
    assert change in drift.retrain_days and change in drift.promoted_days
    assert drift.summary(after)["accuracy"] > 0.9
    assert weekly.summary()["retrainings"] == len(weekly.days) // 7 > drift.summary()["retrainings"]
    day = next(r for r in drift.reports if r["day"] == change)
    assert day["retrain_reason"] == "performance_decay" and day["retrain_key"] == f"toy:v1:{change}"
    assert not day["dataset_drift"]  # the features never moved: only the labels tell
    assert day["evaluation_window"]["enough"]


def test_a_stream_entry_maps_rows_to_days_and_names_what_is_missing(tmp_path):
    stream = load_streams()["elec2"]
    csv = tmp_path / "elec2.csv"
    rows = 96
    pd.DataFrame({"date": 0, "day": 2, "period": np.tile(np.arange(48) / 47, 2), "nswprice": 0.1, "nswdemand": 0.4,
                  "vicprice": 0.003, "vicdemand": 0.4, "transfer": 0.4,
                  "class": ["UP", "DOWN"] * (rows // 2)}).to_csv(csv, index=False)
    frame = load_stream(tmp_path, stream)
    assert list(frame.columns) == list(stream.model.dataset_columns) and "nswprice" not in frame.columns
    assert frame["timestamp"].iloc[48] == pd.Timestamp(stream.start, tz="UTC") + pd.Timedelta(days=1)
    assert frame["timestamp"].iloc[1] - frame["timestamp"].iloc[0] == pd.Timedelta(minutes=30)
    assert frame["up"].tolist()[:2] == [1, 0] and frame["day"].iloc[0] == "2"
    pd.read_csv(csv).drop(columns=["transfer"]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"lacks columns \['transfer'\]"):
        load_stream(tmp_path, stream)
    with pytest.raises(FileNotFoundError, match="no file"):
        load_stream(tmp_path / "nowhere", stream)


def test_stream_entries_parse_with_the_model_entry_rules():
    raw = json.loads((__import__("ops_pipelines.lib.mlops.replay", fromlist=["STREAMS_FILE"]).STREAMS_FILE).read_text())
    assert {s["name"] for s in raw["streams"]} == set(load_streams())
    assert all(s.model.evaluation.max_window_days for s in load_streams().values())
