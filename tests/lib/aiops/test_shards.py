"""Scoring by service shard: stable shards, and split + join equal to one pass over every series."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.anomalies import score_metrics, series_codes
from ops_pipelines.lib.aiops.shards import joined_scores, joined_state, row_shards, shard_of, shard_result, split_rows
from ops_pipelines.lib.aiops.state_store import load_state, save_state
from ops_pipelines.settings import shard_count

SERVICES = [f"svc-{i}" for i in range(12)] + ["checkout", "paiement-é"]


def day_rows(day: str, seed: int, services=SERVICES) -> pd.DataFrame:
    """Two metrics on two hosts per service, minute data with a daily wave, noise and a few spikes; shuffled,
    so a shard's rows are scattered through the frame."""
    rng = np.random.default_rng(seed)
    t = pd.date_range(day, periods=1440, freq="min", tz="UTC")
    frames = []
    for i, svc in enumerate(services):
        for metric in ("cpu", "latency"):
            for host in ("h1", "h2"):
                v = 50 + 10 * np.sin(np.arange(1440) / 1440 * 2 * np.pi) + rng.normal(0, 1 + i % 3, 1440)
                v[rng.integers(0, 1440, 3)] += 40
                frames.append(pd.DataFrame({"timestamp": t, "service": svc, "metric": metric, "host": host, "value": v}))
    rows = pd.concat(frames, ignore_index=True)
    return rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def sharded(rows: pd.DataFrame, previous, shards: int):
    """What the graph does: split, score each shard from its series' previous state, join."""
    results = []
    for shard, part in enumerate(split_rows(rows, shards)):
        state = None
        if previous is not None and len(part):
            state = load_state(previous, only=series_codes(part)[1])
        scored, state = score_metrics(part, state)
        results.append(shard_result(scored["anomaly_score"].to_numpy(), state, shard, shards))
    results.reverse()  # the order results arrive in does not matter
    return joined_scores(rows, results), joined_state(load_state(previous) if previous is not None else None, results)


def test_a_service_is_in_the_same_shard_in_every_process():
    # Python's str hash differs between processes (PYTHONHASHSEED); the shard must not
    code = f"from ops_pipelines.lib.aiops.shards import shard_of; print([shard_of(s, 7) for s in {SERVICES!r}])"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    assert len(outs) == 1
    assert outs.pop().strip() == str([shard_of(s, 7) for s in SERVICES])
    assert len({shard_of(s, 4) for s in SERVICES}) == 4  # 14 services do spread over 4 shards


def test_rows_of_a_categorical_or_plain_service_column_get_the_same_shards():
    rows = day_rows("2026-03-02", 0)
    plain = row_shards(rows["service"], 4)
    assert np.array_equal(plain, row_shards(rows["service"].astype("category"), 4))
    assert np.array_equal(plain, [shard_of(s, 4) for s in rows["service"]])


@pytest.mark.parametrize("shards", [2, 4, 5])
def test_split_and_joined_over_days_equal_one_pass_and_the_state_file_is_byte_identical(tmp_path, shards):
    one_prev = many_prev = None
    for i, day in enumerate(["2026-03-02", "2026-03-03", "2026-03-04"]):
        # a service missing on day 2 keeps its state; one appears on day 3
        services = SERVICES[:-1] if i == 1 else SERVICES + ["late-joiner"] if i == 2 else SERVICES
        rows = day_rows(day, i, services)
        whole, whole_state = score_metrics(rows, load_state(one_prev) if one_prev else None)
        scores, state = sharded(rows, many_prev, shards)
        assert np.array_equal(whole["anomaly_score"].to_numpy(), scores, equal_nan=True)
        one_prev, many_prev = tmp_path / f"one_{day}.zip", tmp_path / f"many_{day}.zip"
        save_state(whole_state, one_prev)
        save_state(state, many_prev)
        assert one_prev.read_bytes() == many_prev.read_bytes()
    assert (whole["anomaly_score"] >= 0.5).sum() > 0  # the spikes were scored, not just copied NaNs


def test_empty_shards_and_an_empty_day_keep_the_state():
    rows = day_rows("2026-03-02", 0, SERVICES[:1])
    scores, state = sharded(rows, None, 8)  # one service: seven empty shards
    assert len(scores) == len(rows) and not np.isnan(scores).all()
    assert len(state.keys) == 4
    _, empty_state = sharded(rows.iloc[:0], None, 3)
    assert empty_state.keys == []
    nothing_stored, _ = sharded(pd.DataFrame(), None, 3)  # no partition at all: a frame without columns
    assert len(nothing_stored) == 0


def test_results_of_another_split_or_a_missing_shard_are_refused():
    rows = day_rows("2026-03-02", 0, SERVICES[:4])
    parts = split_rows(rows, 2)
    results = [shard_result(np.zeros(len(p)), score_metrics(p)[1], s, 2) for s, p in enumerate(parts)]
    with pytest.raises(ValueError, match="not shards 0..0 of 1"):
        joined_scores(rows, results[1:])
    with pytest.raises(ValueError, match="not shards"):
        joined_state(None, [results[0], shard_result(np.zeros(0), score_metrics(rows.iloc[:0])[1], 1, 3)])


def test_load_state_only_some_series(tmp_path):
    rows = day_rows("2026-03-02", 0, SERVICES[:3])
    _, state = score_metrics(rows)
    save_state(state, tmp_path / "s.zip")
    wanted = [state.keys[5], state.keys[1], "not|a|series"]
    part = load_state(tmp_path / "s.zip", only=wanted)
    assert part.keys == [state.keys[1], state.keys[5]]
    for name, array in part.arrays.items():
        assert np.array_equal(array, state.arrays[name][[1, 5]], equal_nan=True)


@pytest.mark.parametrize("raw, expected", [(None, 1), ("", 1), ("4", 4), (" 2 ", 2)])
def test_shard_count(raw, expected):
    assert shard_count({} if raw is None else {"OPS_PIPELINES_SHARDS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", "257"])
def test_shard_count_refuses_what_is_not_a_count(raw):
    with pytest.raises(ValueError, match="OPS_PIPELINES_SHARDS"):
        shard_count({"OPS_PIPELINES_SHARDS": raw})


def test_a_shard_reads_only_its_services_rows_from_a_stored_partition(tmp_path):
    from ops_pipelines.io.parquet import ParquetLayout, write_parquet_atomic

    rows = day_rows("2026-03-02", seed=3)
    rows["service"] = rows["service"].astype("category")
    rows.loc[rows.index[:5], "service"] = None  # a row without a service: shard 0's, as when splitting in memory
    write_parquet_atomic(rows, ParquetLayout(tmp_path).path(["scored"], "2026-03-02"))
    shards = 3
    parts = [ParquetLayout(tmp_path).read(["scored"], ["2026-03-02"], ["service", "value"], shard=(s, shards))
             for s in range(shards)]
    expected = split_rows(rows, shards)
    for part, want in zip(parts, expected, strict=True):
        assert part.columns.tolist() == ["service", "value"]
        pd.testing.assert_frame_equal(part.reset_index(drop=True), want[["service", "value"]], check_categorical=False)
    assert sum(len(p) for p in parts) == len(rows) and min(len(p) for p in parts) > 0
