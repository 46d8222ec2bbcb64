"""The detector: causal, seasonal, robust, adaptive; day by day equals one pass."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops import likelihood
from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState, score
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
    assert all(np.array_equal(loaded.arrays[k], v, equal_nan=True) for k, v in state.arrays.items())


# --- the calibration layer (likelihood.py): judged against the series' own history ---------


def _scores(times, values, **params) -> np.ndarray:
    scores, _ = score(times, values[:, None], DetectorState.empty(["s"]), DetectorParams(**params))
    return scores[:, 0]


def test_recurring_spikes_become_normal_but_a_bigger_spike_is_news():
    times, values = seasonal_series(days=6)
    spikes = np.arange(2 * 1440, 5 * 1440, 120)  # the same spike every two hours for three days
    values[spikes] += 60
    bigger = 5 * 1440 + 30
    values[bigger] += 200
    flags = _scores(times, values) >= 0.5
    assert flags[spikes[:3]].all()  # news the first times ...
    assert flags[spikes[12:]].sum() == 0  # ... routine after a while
    assert flags[bigger]  # larger than anything routine: news again


def test_flapping_that_no_single_point_betrays_is_a_burst():
    times, values = seasonal_series(days=5)
    start = 4 * 1440 + 600
    values[start : start + 30] += 30 * (-1.0) ** np.arange(30)  # a value flapping up and down
    # alarm control off: this is about which points the burst channel finds, not how alarms repeat
    flags = _scores(times, values, alarm_gain=1.0)[start : start + 30] >= 0.5
    without_burst = _scores(times, values, alarm_gain=1.0, burst_level=np.inf)[start : start + 30] >= 0.5
    assert flags.sum() >= without_burst.sum() + 3


def test_a_missing_daily_ramp_alarms_briefly_although_the_recent_level_adopts_it():
    times, values = seasonal_series(days=5)
    start = 4 * 1440 + 360
    values[start : start + 720] = values[start]  # the morning ramp never comes: flat all day
    flags = _scores(times, values)[start : start + 720] >= 0.5
    assert 1 <= flags.sum() <= 10
    assert not (_scores(times, values, season_z=np.inf)[start : start + 720] >= 0.5).any()


def test_a_new_extreme_with_a_modest_z_is_flagged_once_the_range_is_known():
    rng = np.random.default_rng(1)
    t = pd.date_range("2026-03-02", periods=5 * 1440, freq="min", tz="UTC")
    hour = np.asarray(t.hour + t.minute / 60)
    values = 150 + 100 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 15, len(t))
    peak = 4 * 1440 + 15 * 60
    known_max, known_min = values[:peak].max(), values[:peak].min()
    values[peak] = known_max + 0.06 * (known_max - known_min)  # just beyond the 5% margin
    # at threshold 6 the point's z (~4.7) alone does not flag it; 0.3 x 6 is enough beyond the range
    assert _scores(t.asi8, values, threshold=6.0)[peak] >= 0.5
    assert _scores(t.asi8, values, threshold=6.0, range_z=np.inf)[peak] < 0.5


def test_without_a_seasonal_reference_only_a_gross_deviation_alarms():
    times, values = seasonal_series(days=1)
    moderate, gross = 400, 900
    values[moderate] += 30
    values[gross] += 80
    scores = _scores(times, values)
    # scores are z²/(z²+(2k)²) before a day is known: 0.2..0.5 means k <= z < 2k, not flagged
    assert 0.2 < scores[moderate] < 0.5
    assert scores[gross] >= 0.5


def test_chunks_with_state_on_disk_equal_one_pass_with_every_channel_active(tmp_path):
    times, values = seasonal_series(days=6)
    values[np.arange(2 * 1440, 5 * 1440, 120)] += 60  # point: familiar spikes
    flap = 3 * 1440 + 600
    values[flap : flap + 30] += 30 * (-1.0) ** np.arange(30)  # burst
    values[4 * 1440 + 360 : 4 * 1440 + 1080] = values[4 * 1440 + 360]  # season
    values[5 * 1440 + 900] = values.max() * 1.2  # range
    values[5 * 1440 + 100 : 5 * 1440 + 160] = np.nan  # and a gap
    whole, _ = score(times, values[:, None], DetectorState.empty(["s"]))
    state, parts = DetectorState.empty(["s"]), []
    for lo, hi in zip([0, 1000, 2881, 5000, 7777], [1000, 2881, 5000, 7777, len(times)]):
        part, state = score(times[lo:hi], values[lo:hi, None], state)
        save_state(state, tmp_path / "s.zip")
        state = load_state(tmp_path / "s.zip")
        parts.append(part)
    assert np.array_equal(whole, np.concatenate(parts), equal_nan=True)
    assert (whole >= 0.5).sum() > 0


def test_forgetting_folds_its_running_scale_into_the_counts_without_changing_rates():
    times, values = seasonal_series(days=2)
    _, state = score(times[:1500], values[:1500, None], DetectorState.empty(["s"]))  # a day is known
    alpha = DetectorParams().memory_alpha
    state.arrays["point_count"][:] = 3.0
    state.arrays["memory_scale"][:] = 1.0002e-150  # one more learning point takes it below the floor
    before = state.arrays["point_count"] * state.arrays["memory_scale"][:, None] * (1 - alpha)
    scores, after = score(times[1500:1501], values[1500:1501, None], state)
    assert scores[0, 0] < 0.5  # an ordinary point: it learns no new level
    assert after.arrays["memory_scale"][0] == 1.0
    assert np.allclose(after.arrays["point_count"] * after.arrays["memory_scale"][:, None], before, rtol=1e-12)


def test_a_state_written_before_the_calibration_layer_still_loads(tmp_path):
    times, values = seasonal_series(days=2)
    _, state = score(times[:1440], values[:1440, None], DetectorState.empty(["s"]))
    old = DetectorState(state.keys, {k: v for k, v in state.arrays.items() if k not in likelihood.empty_arrays(0)})
    save_state(old, tmp_path / "old.zip")
    scores, new = score(times[1440:], values[1440:, None], load_state(tmp_path / "old.zip"))
    assert np.isfinite(scores).all() and new.arrays.keys() == DetectorState.empty(["s"]).arrays.keys()
    assert new.arrays["count"][0] == len(times)  # the old arrays were kept, the new ones started


# --- what makes it hold on series it was not designed on (docs/aiops.md) --------------------


def test_one_step_of_a_quantised_series_is_not_news_but_a_jump_is():
    rng = np.random.default_rng(3)
    t = pd.date_range("2026-03-02", periods=4 * 1440, freq="min", tz="UTC")
    quantum = 0.066  # e.g. a CPU percentage reported in fixed steps: flat for hours, then one step
    values = np.full(len(t), 2 * quantum)
    values[rng.random(len(t)) < 0.01] += quantum
    values[2 * 1440 :] += quantum  # a lasting one-step change
    jump = 3 * 1440 + 500
    values[jump] += 8 * quantum
    flags = _scores(t.asi8, values) >= 0.5
    assert not flags[60:jump].any()  # once the series has shown its step size (its first change is news)
    assert flags[jump]
    # the scale floor is what decides: without it the same steps alarm again and again
    assert (_scores(t.asi8, values, resolution_floor=0.0)[60:jump] >= 0.5).sum() >= 5


def test_a_repeated_alarm_needs_a_bigger_deviation_until_the_bar_decays():
    rng = np.random.default_rng(4)
    t = pd.date_range("2026-03-02", periods=6 * 1440, freq="min", tz="UTC")
    hour = np.asarray(t.hour + t.minute / 60)
    values = 100 + 50 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 3, len(t))  # no weekends
    first, again, bigger = 1440 + 600, 1440 + 660, 1440 + 720
    values[[first, again]] += 22  # z ~ 5: above the threshold (4), below 1.5 x it
    values[bigger] += 60
    scores, state = score(t.asi8, values[:, None], DetectorState.empty(["s"]))
    assert scores[first, 0] >= 0.5
    assert scores[again, 0] < 0.5  # an hour later the same deviation is not a new alarm ...
    assert scores[bigger, 0] >= 0.5  # ... a clearly bigger one is
    assert _scores(t.asi8, values, alarm_gain=1.0)[again] >= 0.5  # without alarm control it alarms
    _, noon = score(t.asi8[: bigger + 1], values[: bigger + 1, None], DetectorState.empty(["s"]))
    # two alarms: 1.5 after the first, decayed for two hours (half-life one day), x 1.5 again
    assert noon.arrays["gain"][0] == pytest.approx((1 + 0.5 * 0.5 ** (2 / 24)) * 1.5)
    assert 1.0 <= state.arrays["gain"][0] < 1.1  # four quiet days later it is nearly back to 1


def test_an_outage_is_not_learned_as_the_normal_for_its_time_of_day():
    times, values = seasonal_series(days=5)
    normal = values.copy()
    outage = slice(1440 + 600, 1440 + 660)  # day 2, 10:00-11:00: the daily profile has seen one day
    values[outage] *= 3
    scores, state = score(times[: 3 * 1440], values[: 3 * 1440, None], DetectorState.empty(["s"]))
    assert (scores[outage, 0] >= 0.5).any()
    slots = np.arange(120, 132)  # the 5-minute slots of the daily profile from 10:00 to 11:00
    learned = state.arrays["day_mean"][0, slots]
    expected = normal[2 * 1440 + 600 : 2 * 1440 + 660].reshape(-1, 5).mean(axis=1)
    assert np.abs(learned - expected).max() < 0.1 * expected.mean()  # the outage left no trace
    flags = _scores(times, values) >= 0.5
    for day in (2, 3, 4):  # and the same clock time on later, normal days raises nothing
        assert not flags[day * 1440 + 540 : day * 1440 + 720].any(), day


@pytest.mark.parametrize("bad", [1e308, -1e308, np.inf, -np.inf, np.nan])
def test_an_absurd_value_never_reaches_the_state_and_a_later_spike_is_still_found(bad):
    times, values = seasonal_series(days=4)
    values[2 * 1440 + 100] = bad
    spike = 3 * 1440 + 600
    values[spike] += 150
    scores, state = score(times, values[:, None], DetectorState.empty(["s"]))
    assert np.isnan(scores[2 * 1440 + 100, 0])  # no point, no score
    assert scores[spike, 0] >= 0.5  # the series is not blinded
    clean = values.copy()
    clean[2 * 1440 + 100] = np.nan
    assert np.array_equal(scores, score(times, clean[:, None], DetectorState.empty(["s"]))[0], equal_nan=True)
    for name, array in state.arrays.items():
        finite = np.isfinite(array)
        if name == "last_alarm":
            finite |= np.isnan(array)  # NaN: the series never alarmed
        assert finite.all(), name


def test_negative_zero_scores_like_zero():
    times, values = seasonal_series(days=2)
    values[::7] = 0.0
    negative = values.copy()
    negative[::7] = -0.0
    assert np.array_equal(_scores(times, values), _scores(times, negative), equal_nan=True)
