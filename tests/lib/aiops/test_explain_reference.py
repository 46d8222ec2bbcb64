"""The raw values correlation reads, and the correlation rules that scan history (recurring patterns, job runs, changes, own load, clustering) are
indexed so that a day of 10^5 episodes stays linear. They must give what the plain definition gives: each
is compared here with a direct scan of every row (the rule as written in its docstring) on random days
dense enough to hit every branch (same-time-of-day pasts, jobs on callers, overlapping changes, bridges)."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops import explain
from ops_pipelines.lib.aiops.episodes import SeriesValues
from ops_pipelines.lib.aiops.incidents import CorrelationParams, correlate
from ops_pipelines.lib.aiops.topology import Topology

P = explain.ExplainParams()
T0 = pd.Timestamp("2026-03-10", tz="UTC")
SERVICES = ["api", "db", "cache", "orders", "search", "batch"]
CLASSES = ["errors", "latency", "traffic", "saturation"]
TOPOLOGY = Topology((("api", "orders"), ("orders", "db"), ("api", "search"), ("search", "cache"), ("batch", "db")))


def times(rng, n: int, days: float, at_minutes=(120, 600, 1200)) -> pd.Series:
    """Starts clustered around a few times of day (so that pasts recur), over `days` days before T0 + 1 day."""
    day = rng.integers(-int(days), 1, n)
    minute = rng.choice(at_minutes, n) + rng.integers(-60, 60, n)
    return pd.Series(T0 + pd.to_timedelta(day, unit="D") + pd.to_timedelta(minute, unit="min"))


def episodes(rng, n: int) -> pd.DataFrame:
    start = times(rng, n, 0).sort_values(ignore_index=True)
    end = start + pd.to_timedelta(rng.integers(0, 90, n), unit="min")
    return pd.DataFrame({
        "service": rng.choice(SERVICES, n), "signal_class": rng.choice(CLASSES, n), "start": start, "end": end,
        "direction": rng.choice(["up", "down", "flat"], n), "ratio": rng.uniform(0.5, 3.0, n),
    })


def windows(rng, n: int, days: float) -> pd.DataFrame:
    start = times(rng, n, days)
    end = start + pd.to_timedelta(rng.integers(0, 60, n), unit="min")
    return pd.DataFrame({"service": rng.choice(SERVICES, n), "start": start.array, "end": end.array},
                        index=rng.permutation(n) + 100)  # labels, not positions, are what following_change returns


def tod_distance(a: pd.Series, b: pd.Timestamp) -> np.ndarray:
    d = np.abs((a.dt.hour * 60 + a.dt.minute).to_numpy() - (b.hour * 60 + b.minute))
    return np.minimum(d, 1440 - d)


def recurring_by_scan(eps, history, jobs) -> list[str]:
    window = P.recurring_window.total_seconds() / 60
    out = []
    for ep in eps.itertuples():
        why = ""
        inside = jobs[(jobs["start"] - P.change_before <= ep.start) & (ep.start <= jobs["end"] + P.change_after)]
        for job in inside.itertuples():
            hops = 0 if job.service == ep.service else TOPOLOGY.depends_on(ep.service, job.service)
            if hops is None or hops > P.job_reach_hops:
                continue
            before = jobs[(jobs["service"] == job.service) & (jobs["start"] <= job.start - pd.Timedelta(hours=20))
                          & (jobs["start"] >= job.start - P.lookback_days * explain.DAY)]
            if before.loc[tod_distance(before["start"], job.start) <= window, "start"].dt.floor("D").nunique() >= P.recurring_job_days:
                why = f"job:{job.service}"
                break
        if not why:
            same = ((history["start"] <= ep.start - pd.Timedelta(hours=20))
                    & (history["start"] >= ep.start - P.lookback_days * explain.DAY)
                    & (history["service"] == ep.service) & (history["signal_class"] == ep.signal_class))
            near = same.to_numpy() & (tod_distance(history["start"], ep.start) <= window)
            if history["start"].dt.floor("D")[near].nunique() >= P.recurring_days:
                why = "recurring"
        out.append(why)
    return out


def following_by_scan(eps, changes) -> list[int]:
    out = []
    for ep in eps.itertuples():
        hit = changes[(changes["service"] == ep.service) & (changes["start"] - P.change_before <= ep.start)
                      & (ep.start <= changes["end"] + P.change_after)]
        out.append(int(hit.index[-1]) if len(hit) else -1)
    return out


def own_load_by_scan(eps) -> np.ndarray:
    ups = eps[(eps["signal_class"] == "traffic") & (eps["direction"] == "up")]
    margin = pd.Timedelta(minutes=15)
    return np.array([
        ep.signal_class in ("latency", "saturation", "other") and ep.ratio < P.load_max_ratio
        and bool(((ups["service"] == ep.service) & (ups["start"] <= ep.end + margin) & (ups["end"] >= ep.start - margin)).any())
        for ep in eps.itertuples()], dtype=bool)


def correlate_by_scan(eps, params: CorrelationParams) -> list[list]:
    clusters: list[dict] = []
    for i, ep in eps.iterrows():
        hits = [c for c in clusters if ep["start"] <= c["end"] + params.join_gap
                and any(TOPOLOGY.distance(ep["service"], s) <= params.max_hops for s in c["services"])]
        if not hits:
            clusters.append({"rows": [i], "end": ep["end"], "services": {ep["service"]}})
            continue
        keep = hits[0]
        for other in hits[1:]:
            keep["rows"] += other["rows"]
            keep["services"] |= other["services"]
            keep["end"] = max(keep["end"], other["end"])
            clusters.remove(other)
        keep["rows"].append(i)
        keep["services"].add(ep["service"])
        keep["end"] = max(keep["end"], ep["end"])
    return [sorted(c["rows"]) for c in clusters]


@pytest.mark.parametrize("seed", range(6))
def test_indexed_rules_give_what_a_scan_of_every_row_gives(seed):
    rng = np.random.default_rng(seed)
    eps = episodes(rng, 300)
    history = pd.concat([episodes(rng, 0), pd.DataFrame({
        "service": rng.choice(SERVICES, 600), "signal_class": rng.choice(CLASSES, 600), "start": times(rng, 600, 9)})],
        ignore_index=True)[["service", "signal_class", "start"]]
    jobs, changes = windows(rng, 40, 9), windows(rng, 150, 1)

    got = explain.recurring(eps, history, jobs, TOPOLOGY, P)
    assert got == recurring_by_scan(eps, history, jobs)
    assert {"", "recurring"} < set(got) and any(w.startswith("job:") for w in got)  # every branch was taken
    following = explain.following_change(eps, changes, P)
    assert following == following_by_scan(eps, changes) and len(set(following)) > 10
    load = explain.own_load(eps, P)
    assert load.tolist() == own_load_by_scan(eps).tolist() and 0 < load.sum() < len(eps)


@pytest.mark.parametrize("seed", range(6))
def test_clusters_are_those_of_a_scan_of_every_open_and_closed_cluster(seed):
    rng = np.random.default_rng(seed)
    eps = episodes(rng, 400).set_index(rng.permutation(400) + 1000)  # index labels in another order than starts
    params = CorrelationParams()
    expected = correlate_by_scan(eps, params)
    got = [list(part.index) for part in correlate(eps, TOPOLOGY, params)]
    assert got == expected
    assert 1 < len(got) < len(eps) and max(map(len, got)) > 2  # episodes joined and clusters closed


def test_empty_inputs():
    eps = episodes(np.random.default_rng(0), 5)
    none = windows(np.random.default_rng(0), 0, 1)
    assert explain.recurring(eps, eps.iloc[:0][["service", "signal_class", "start"]], none, TOPOLOGY, P) == [""] * 5
    assert explain.following_change(eps, none, P) == [-1] * 5
    assert correlate(eps.iloc[:0], TOPOLOGY) == []
    untyped = pd.DataFrame(columns=list(eps.columns))  # no rows, object columns: as an empty day reaches them
    assert explain.own_load(untyped, P).tolist() == [] and explain.following_change(untyped, untyped, P) == []
    assert explain.recurring(untyped, untyped[["service", "signal_class", "start"]], untyped, TOPOLOGY, P) == []


def test_timestamps_in_microseconds_give_what_nanoseconds_give():
    rng = np.random.default_rng(1)
    eps, jobs, changes = episodes(rng, 200), windows(rng, 40, 9), windows(rng, 100, 1)
    history = pd.DataFrame({"service": rng.choice(SERVICES, 500), "signal_class": rng.choice(CLASSES, 500),
                            "start": times(rng, 500, 9)})
    us = {"start": "datetime64[us, UTC]", "end": "datetime64[us, UTC]"}
    assert (explain.recurring(eps, history.astype({"start": us["start"]}), jobs.astype(us), TOPOLOGY, P)
            == explain.recurring(eps, history, jobs, TOPOLOGY, P))
    assert explain.following_change(eps, changes.astype(us), P) == explain.following_change(eps, changes, P)
    assert explain.own_load(eps.astype(us), P).tolist() == explain.own_load(eps, P).tolist()


def values_by_sort(metrics: pd.DataFrame) -> dict:
    frame = pd.DataFrame({
        "t": metrics["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
        "service": metrics["service"].astype(str).to_numpy(), "metric": metrics["metric"].astype(str).to_numpy(),
        "host": metrics["host"].astype(str).to_numpy(), "v": pd.to_numeric(metrics["value"], errors="coerce").to_numpy(dtype=float),
    })
    frame = frame[np.isfinite(frame["v"].to_numpy())].sort_values(["service", "metric", "host", "t"], kind="stable")
    return {key: (part["t"].to_numpy(), part["v"].to_numpy()) for key, part in frame.groupby(["service", "metric", "host"], sort=False)}


@pytest.mark.parametrize("categorical", [False, True])
def test_series_values_are_those_of_one_sort_by_name_and_time(categorical):
    rng = np.random.default_rng(3)
    n = 5000
    metrics = pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(rng.integers(0, 1440, n), unit="min"),  # out of order, with ties
        "service": rng.choice(np.array(["api", "db", "nan", None, "Zeta"], dtype=object), n),
        "metric": rng.choice(np.array(["cpu", "errors", np.nan, "p99_ms"], dtype=object), n),
        "host": rng.choice(np.array(["h1", "h2", "", None], dtype=object), n),
        "value": rng.choice([1.0, 2.5, np.nan, np.inf, -3.0, 7.0], n),
    })
    if categorical:
        metrics = metrics.astype({c: "category" for c in ("service", "metric", "host")})
    got, expected = SeriesValues(metrics)._index, values_by_sort(metrics)
    assert list(got) == list(expected) and ("nan", "cpu", "h1") in got
    assert (("None", "cpu", "h1") in got) is not categorical  # a category column holds None as NaN
    for key, (t, v) in expected.items():
        np.testing.assert_array_equal(got[key][0], t)
        np.testing.assert_array_equal(got[key][1], v)
    assert SeriesValues(metrics.assign(value=np.nan)).keys() == []
