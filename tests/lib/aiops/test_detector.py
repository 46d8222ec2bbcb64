"""The detector: causal, seasonal, robust, adaptive; day by day equals one pass."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.lib.aiops.detector import DetectorState, score
from ops_pipelines.lib.aiops.state_store import load_state, save_state

MIN = 60_000_000_000  # one minute in ns


def seasonal_series(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-minute points with a daily cycle (low at night), weekend dip and noise."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2026-03-02", periods=days * 1440, freq="min", tz="UTC")
    hour = t.hour + t.minute / 60
    weekend = np.where(t.dayofweek >= 5, 0.7, 1.0)
    values = 100 * (1.5 + np.sin((hour - 9) / 24 * 2 * np.pi)) * weekend + rng.normal(0, 3, len(t))
    return t.asi8, np.asarray(values, dtype=float)


def metric_rows(days: int) -> pd.DataFrame:
    times, values = seasonal_series(days)
    frames = []
    for i, svc in enumerate(["api", "db"]):
        frames.append(pd.DataFrame({"timestamp": pd.to_datetime(times, utc=True), "service": svc, "metric": "rps",
                                    "host": "", "value": values * (1 + i) + np.random.default_rng(i).normal(0, 2, len(values))}))
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.drop(index=rows.index[(rows["service"] == "db") & (rows["timestamp"].dt.day == 3)])  # db silent on day 2
    return rows.reset_index(drop=True)


def test_scoring_day_by_day_equals_scoring_the_whole_range(tmp_path):
    rows = metric_rows(days=4)
    whole, _ = score_metrics(rows)
    state, parts = None, []
    for day, part in rows.groupby(rows["timestamp"].dt.date):
        scored, state = score_metrics(part.reset_index(drop=True), state)
        path = tmp_path / f"{day}.zip"
        save_state(state, path)  # through the disk, as the asset does
        state = load_state(path)
        parts.append(scored)
    daily = pd.concat(parts, ignore_index=True)
    key = ["service", "timestamp"]
    a = whole.sort_values(key).reset_index(drop=True)
    b = daily.sort_values(key).reset_index(drop=True)
    assert np.array_equal(a["anomaly_score"].to_numpy(), b["anomaly_score"].to_numpy(), equal_nan=True)
    assert a["is_anomaly"].sum() == b["is_anomaly"].sum()


def test_state_files_are_byte_identical_for_the_same_input(tmp_path):
    _, state = score_metrics(metric_rows(days=1))
    save_state(state, tmp_path / "a.zip")
    save_state(load_state(tmp_path / "a.zip"), tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_a_point_is_not_influenced_by_the_future():
    times, values = seasonal_series(days=2)
    early, _ = score(times, values[:, None], DetectorState.empty(["s"]))
    changed = values.copy()
    changed[2000:] += 500  # rewrite the future
    late, _ = score(times, changed[:, None], DetectorState.empty(["s"]))
    assert np.array_equal(early[:2000], late[:2000], equal_nan=True)


def test_spike_is_flagged_and_normal_seasonality_is_not():
    times, values = seasonal_series(days=10)
    spike_at = 9 * 1440 + 600
    values[spike_at] += 150
    scores, _ = score(times, values[:, None], DetectorState.empty(["s"]))
    flags = scores[:, 0] >= 0.5
    assert flags[spike_at]
    after_warmup = flags[2 * 1440 :]
    assert after_warmup.sum() <= 10, f"{after_warmup.sum()} false alarms in 8 days of normal data"


def test_persistent_level_shift_is_flagged_then_adopted():
    times, values = seasonal_series(days=9)
    shift_at = 8 * 1440
    values[shift_at:] += 120
    scores, _ = score(times, values[:, None], DetectorState.empty(["s"]))
    flags = scores[:, 0] >= 0.5
    assert flags[shift_at : shift_at + 5].all()
    assert flags[shift_at + 240 :].sum() == 0  # four hours later the new level is normal


def test_gaps_do_not_raise_alarms():
    times, values = seasonal_series(days=6)
    keep = np.ones(len(times), dtype=bool)
    keep[3 * 1440 : 3 * 1440 + 180] = False  # a three-hour hole
    keep[::7] = False  # and irregular sampling
    scores, _ = score(times[keep], values[keep][:, None], DetectorState.empty(["s"]))
    assert (scores[1440:, 0] >= 0.5).sum() <= 5


def test_new_series_start_cold_and_absent_series_keep_their_state():
    rows = metric_rows(days=2)
    day1 = rows[rows["timestamp"].dt.day == 2]
    _, state = score_metrics(day1[day1["service"] == "api"])
    _, state2 = score_metrics(day1[day1["service"] == "db"], state)
    assert state2.keys == ["api|rps|", "db|rps|"]
    i = state2.keys.index("api|rps|")
    assert state2.arrays["level"][i] == state.arrays["level"][0] and state2.arrays["count"][i] == state.arrays["count"][0]


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_state_round_trip_keeps_every_array(tmp_path, bad):
    _, state = score_metrics(metric_rows(days=1))
    state.arrays["level"][0] = bad  # non-finite values survive the file format unchanged
    save_state(state, tmp_path / "s.zip")
    loaded = load_state(tmp_path / "s.zip")
    assert loaded.keys == state.keys and loaded.arrays["level"][0] == bad
    assert loaded.arrays.keys() == state.arrays.keys()
    assert all(np.array_equal(loaded.arrays[k], v) for k, v in state.arrays.items())
