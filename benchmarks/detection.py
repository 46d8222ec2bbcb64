"""Detection + rollups on 10M points (1,000 series x 10,000 points), against two references.

Usage: python benchmarks/detection.py [--series 1000] [--points 10000] [--repeats 3] [--numba-cache DIR]

(a) baseline: a plain pandas rolling-median/MAD z-score per series plus a groupby rollup;
(b) floor: the DuckDB rollup alone (what any rollup costs). Each contender runs in a fresh
process (peak RSS is its own), alternating, median of --repeats. Reports the ratios.

Our detector's loop is compiled by numba once per process: that JIT time (numba import and
compile, measured on a tiny input first) is reported on its own line, not in "ours". Without
--numba-cache every process compiles from scratch (NUMBA_CACHE_DIR is removed from the trials'
environment); with it, the first trial fills the cache in DIR and the others load from it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PREP = r"""
import numpy as np, pandas as pd
def frame(series, points):
    rng = np.random.default_rng(0)
    ts = pd.date_range("2026-03-02", periods=points, freq="min", tz="UTC")
    day = np.sin(np.arange(points) / 1440 * 2 * np.pi)
    values = 100 + 20 * day[None, :] + rng.normal(0, 3, (series, points))
    values[rng.random((series, points)) < 1e-4] += 60  # a few spikes to find
    return pd.DataFrame({
        "timestamp": np.tile(ts, series),
        "service": pd.Categorical(np.repeat([f"svc-{i % 100}" for i in range(series)], points)),
        "metric": pd.Categorical(np.repeat([f"metric_{i // 100}" for i in range(series)], points)),
        "host": pd.Categorical(np.repeat([""] * series, points)),
        "value": values.ravel(),
    })
"""

TRIAL = PREP + r"""
import json, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
which, series, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
df = frame(series, points)
t0, c0 = time.perf_counter(), cpu()
jit = jit_cpu = 0.0
if which == "ours":
    from ops_pipelines.lib.aiops.anomalies import score_metrics
    from ops_pipelines.lib.aiops.rollups import rollup
    t_jit, c_jit = time.perf_counter(), cpu()
    score_metrics(df.iloc[:2])  # numba import + compile (or cache load): reported separately
    jit, jit_cpu = time.perf_counter() - t_jit, cpu() - c_jit
    scored, _ = score_metrics(df)
    out = rollup(scored)
elif which == "pandas":
    g = df.groupby(["service", "metric", "host"], observed=True, sort=False)["value"]
    med = g.transform(lambda s: s.rolling(60, min_periods=10).median())
    dev = (df["value"] - med).abs()
    mad = dev.groupby([df["service"], df["metric"], df["host"]], observed=True, sort=False).transform(lambda s: s.rolling(60, min_periods=10).median())
    z = (df["value"] - med) / (1.4826 * mad)
    df["anomaly_score"] = (z.abs() / (z.abs() + 5)).fillna(0)
    df["is_anomaly"] = z.abs() >= 5
    df["hour"] = df["timestamp"].dt.floor("h")
    out = df.groupby(["hour", "service", "metric"], observed=True).agg(
        points=("value", "size"), anomalies=("is_anomaly", "sum"), max_score=("anomaly_score", "max"), mean_score=("anomaly_score", "mean"))
else:  # duckdb floor: the rollup alone, on already-scored points
    import duckdb
    df["anomaly_score"] = 0.0
    df["is_anomaly"] = False
    t0, c0 = time.perf_counter(), cpu()
    con = duckdb.connect()
    out = con.execute("SELECT date_trunc('hour', timestamp) h, service, metric, count(*), count(*) FILTER (WHERE is_anomaly), max(anomaly_score), avg(anomaly_score), min(timestamp) FILTER (WHERE is_anomaly), max(timestamp) FILTER (WHERE is_anomaly) FROM df GROUP BY ALL").df()
seconds, cpu_seconds = time.perf_counter() - t0 - jit, cpu() - c0 - jit_cpu
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("\n" + json.dumps({"seconds": seconds, "cpu": cpu_seconds, "jit": jit, "rows": len(out), "peak_mb": peak_mb}))
"""


def trial(which: str, series: int, points: int, numba_cache: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if numba_cache:
        env["NUMBA_CACHE_DIR"] = numba_cache
    res = subprocess.run([sys.executable, "-c", TRIAL, which, str(series), str(points)], capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])  # DuckDB may draw a progress bar before it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numba-cache", help="NUMBA_CACHE_DIR for our trials (outside the repo); default: no cache")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"ours": [], "pandas": [], "duckdb": []}
    for i in range(args.repeats):
        for which, results in runs.items():
            r = trial(which, args.series, args.points, args.numba_cache)
            results.append(r)
            jit = f"  (+ JIT {r['jit']:.2f} s)" if which == "ours" else ""
            print(f"  run {i + 1} {which:<7} {r['seconds']:7.2f} s (cpu {r['cpu']:5.2f} s)  peak {r['peak_mb']:6.0f} MB{jit}", flush=True)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
    print(f"median s: ours {med['ours']:.2f}, pandas rolling baseline {med['pandas']:.2f}, duckdb floor {med['duckdb']:.2f} "
          f"(cpu s: {cpu['ours']:.2f}, {cpu['pandas']:.2f}, {cpu['duckdb']:.2f}; both ours and DuckDB use every core)")
    print(f"speed-up vs pandas {med['pandas'] / med['ours']:.1f}x; ours / floor {med['ours'] / med['duckdb']:.1f}x; "
          f"peak MB ours {peak['ours']:.0f} (includes the {args.series * args.points / 1e6:.0f}M-point input frame)")
    jit = statistics.median(r["jit"] for r in runs["ours"])
    cache = f"from the cache in {args.numba_cache}" if args.numba_cache else "compiled, no cache"
    print(f"JIT once per process ({cache}): median {jit:.2f} s; ours including it {med['ours'] + jit:.2f} s: "
          f"{med['pandas'] / (med['ours'] + jit):.1f}x vs pandas, {(med['ours'] + jit) / med['duckdb']:.1f}x the floor")


if __name__ == "__main__":
    main()
