"""The compiled detector equals the numpy implementation it replaced, bit for bit; the fast pivot
of score_metrics equals the pandas groupby/factorize it replaced."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops import anomalies, detector
from ops_pipelines.lib.aiops.anomalies import score_metrics, series_codes
from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState, score
from tests.lib.aiops.numpy_reference import reference_score

TEN_MIN = 600_000_000_000  # ns


def awkward_series(seed: int = 0, days: int = 22, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """10-minute points over three weeks (weekly profiles mature) with every awkward case:
    flat, spikes, level shift, gaps, irregular sampling, a late starter, negative and non-finite values."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2026-03-02", tz="UTC").value + np.arange(days * 144) * TEN_MIN
    times[500:] += 7 * 60 * 10**9  # an irregular step: slots and periods no longer line up
    hour = (times // 10**9 % 86_400) / 3600
    weekend = np.where((times // 10**9 // 86_400 + 3) % 7 >= 5, 0.7, 1.0)
    amp = rng.uniform(0.5, 50, n)
    values = ((1.5 + np.sin((hour - 9) / 24 * 2 * np.pi)) * weekend)[:, None] * amp
    values += rng.normal(0, 1, values.shape) * amp * 0.05
    t = len(times)
    values[:, 0] = 5.0  # flat: the scale floor decides
    values[rng.integers(0, t, 20), 0] += 2
    values[np.arange(300, 2000, 12), 1] *= 1.8  # recurring spikes become familiar
    values[1500:, 2] += 40 * amp[2]  # a level shift
    values[900:960, 3] = np.nan  # a gap
    values[:700, 4] = np.nan  # a late starter
    values[rng.random(t) < 0.4, 5] = np.nan  # irregular sampling
    values[:, 6] *= -1
    values[1200:1220, 7] += amp[7] * (-1.0) ** np.arange(20)  # flapping
    values[1000, 8], values[1001, 8], values[1002, 8], values[1003, 8] = np.inf, -np.inf, 1e308, -0.0
    values[2500, 9] = values[:, 9].max() * 1.5  # a new extreme
    values[rng.random(values.shape) < 0.002] = np.nan
    return times, values


def assert_same(expected: tuple[np.ndarray, DetectorState], got: tuple[np.ndarray, DetectorState]) -> None:
    assert np.array_equal(expected[0], got[0], equal_nan=True)
    assert expected[1].keys == got[1].keys and expected[1].arrays.keys() == got[1].arrays.keys()
    for name, array in expected[1].arrays.items():
        assert array.dtype == got[1].arrays[name].dtype and np.array_equal(array, got[1].arrays[name], equal_nan=True), name


@pytest.mark.parametrize("params", [
    DetectorParams(),
    # short memory: the forgetting scale is folded into the counts many times; every knob moved
    DetectorParams(threshold=3.0, memory_halflife=2.0, familiar_after=2.0, burst_halflife=4.0, warmup=3, clip=2.0),
    DetectorParams(burst_level=np.inf, season_z=np.inf, range_z=np.inf, rel_floor=0.0),
    # alarm control that bites hard and forgets fast, every flag a new alarm; no resolution floor
    DetectorParams(alarm_gain=3.0, gain_halflife_s=900.0, gain_max=50.0, rearm_s=0.0, resolution_floor=0.0,
                   season_min_days=1),
])
def test_the_compiled_detector_gives_the_numpy_implementations_floats(params):
    times, values = awkward_series()
    keys = [f"s{i}" for i in range(values.shape[1])]
    with np.errstate(all="ignore"):
        expected = reference_score(times, values, DetectorState.empty(keys), params)
    got = score(times, values, DetectorState.empty(keys), params)
    assert_same(expected, got)
    assert (got[0] >= 0.5).sum() > 0


def test_chunks_and_parallel_blocks_give_the_same_floats(monkeypatch):
    times, values = awkward_series(seed=1)
    keys = [f"s{i}" for i in range(values.shape[1])]
    whole = score(times, values, DetectorState.empty(keys))
    monkeypatch.setattr(detector, "_POINTS_PER_THREAD", 1)  # force the threaded path on a small input
    monkeypatch.setattr(detector.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    state, parts = DetectorState.empty(keys), []
    for lo, hi in [(0, 1), (1, 400), (400, len(times))]:
        part, state = score(times[lo:hi], values[lo:hi], state)
        parts.append(part)
    assert_same(whole, (np.concatenate(parts), state))


def test_score_leaves_the_callers_state_alone():
    times, values = awkward_series()
    state = DetectorState.empty([f"s{i}" for i in range(values.shape[1])])
    _, new = score(times, values, state)
    assert state.arrays["count"].sum() == 0 and new.arrays["count"].sum() > 0


def test_score_rejects_values_that_do_not_match_the_state():
    with pytest.raises(ValueError, match="series x time"):
        detector.score_in_place(np.arange(3), np.zeros((2, 3)), DetectorState.empty(["a"]), DetectorParams())


def test_importing_the_detector_modules_does_not_import_numba():
    code = ("import sys; import ops_pipelines.lib.aiops.anomalies, ops_pipelines.lib.aiops.state_store; "
            "assert 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the pivot: series codes and time codes without groupby/hashing ---------------------------


def metric_rows(kind: str) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 600
    service = rng.choice(["web", "api", "db", "a|b"], n)
    metric = rng.choice(["p95", "cpu", "rps"], n)
    host = rng.choice(["", "h2", "h1"], n)
    frame = pd.DataFrame({"timestamp": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(rng.integers(0, 3000, n), "min"),
                          "service": service, "metric": metric, "host": host, "value": rng.normal(0, 1, n)})
    if kind == "categorical":  # categories in a non-alphabetical order, one never used
        for col, cats in [("service", ["web", "db", "api", "a|b", "unused"]), ("metric", ["rps", "p95", "cpu"])]:
            frame[col] = pd.Categorical(frame[col], categories=cats)
        frame["host"] = frame["host"].astype("category")
    return frame


@pytest.mark.parametrize("kind", ["object", "categorical"])
def test_series_codes_match_a_sorted_groupby(kind):
    rows = metric_rows(kind)
    codes, names = series_codes(rows)
    groups = rows.groupby(["service", "metric", "host"], observed=True, sort=True)
    assert np.array_equal(codes, groups.ngroup().to_numpy())
    assert names == ["|".join(map(str, key)) for key in groups.size().index]


def test_rows_without_a_series_key_are_refused_with_the_column_named():
    rows = metric_rows("object")
    rows.loc[5, "host"] = None
    with pytest.raises(ValueError, match="1 metric rows have no 'host'"):
        score_metrics(rows)


@pytest.mark.parametrize("keys, step", [
    (np.array([5, 3, 3, 9, -2, 5]), 1),
    (np.array([2**62, -(2**62), 0, 0]), 1),  # too sparse for a table: hashing instead
    (np.array([-(2**63), 2**63 - 1, 0]), 1),  # the widest span int64 allows: no overflow
    (np.array([3_000_000_000, 1_000_000_000, 3_000_000_000]), 1_000_000_000),
    (np.array([3_000_000_000, 1_000_000_001, 3_000_000_000]), 1_000_000_000),  # not whole seconds
    (np.random.default_rng(0).integers(0, 50, 1000) * 60_000_000_000, 1_000_000_000),
])
def test_dense_codes_equal_a_sorted_factorize(keys, step):
    codes, uniques = anomalies._dense_codes(keys, step=step)
    expected_codes, expected_uniques = pd.factorize(keys, sort=True)
    assert np.array_equal(codes, expected_codes) and np.array_equal(uniques, expected_uniques)


def test_scores_do_not_depend_on_row_order_duplicates_or_the_timestamps_zone():
    rows = metric_rows("object").drop_duplicates(["service", "metric", "host", "timestamp"])
    base, state = score_metrics(rows)
    shuffled = pd.concat([rows, rows.iloc[:40]]).sample(frac=1.0, random_state=1)  # out of order, duplicated
    shuffled["timestamp"] = shuffled["timestamp"].dt.tz_convert("America/New_York")  # same instants
    got, state2 = score_metrics(shuffled)
    key = ["service", "metric", "host", "timestamp"]
    merged = got.merge(base, on=key, suffixes=("", "_base"))
    assert len(merged) == len(shuffled)
    assert np.array_equal(merged["anomaly_score"], merged["anomaly_score_base"], equal_nan=True)
    assert state.keys == state2.keys
    assert all(np.array_equal(v, state2.arrays[k], equal_nan=True) for k, v in state.arrays.items())


def test_non_finite_values_are_no_points_and_the_input_frame_is_untouched():
    rows = metric_rows("categorical")
    with_nan = rows.copy()
    with_nan.loc[with_nan.index[::7], "value"] = np.nan
    before = with_nan.copy()
    scored, _ = score_metrics(with_nan)
    pd.testing.assert_frame_equal(with_nan, before)  # no columns added to the caller's frame
    missing = scored["value"].isna()
    assert scored.loc[missing, "anomaly_score"].isna().all() and not scored.loc[missing, "is_anomaly"].any()
    clean, _ = score_metrics(with_nan[~missing])
    assert np.array_equal(scored.loc[~missing, "anomaly_score"], clean["anomaly_score"], equal_nan=True)


def test_empty_rows_keep_the_state():
    rows = metric_rows("object")
    _, state = score_metrics(rows)
    scored, same = score_metrics(rows.iloc[:0], state)
    assert scored.empty and {"anomaly_score", "is_anomaly"} <= set(scored.columns) and same is state


def test_compiled_code_is_cached_only_in_an_explicit_folder_outside_the_source_tree(monkeypatch, tmp_path):
    from ops_pipelines.lib.aiops import kernel

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not kernel._cache_wanted()  # numba's default would be a __pycache__ inside the package
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(Path(kernel.__file__).parent / "__pycache__"))
    assert not kernel._cache_wanted()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert kernel._cache_wanted() and (tmp_path / "numba").is_dir()
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "file" / "numba"))  # cannot be created
    assert not kernel._cache_wanted()
