"""Detection + rollups on 10M points (1,000 series x 10,000 points), against two references.

Usage: python benchmarks/detection.py [--series 1000] [--points 10000] [--repeats 3]

(a) baseline: a plain pandas rolling-median/MAD z-score per series plus a groupby rollup;
(b) floor: the DuckDB rollup alone (what any rollup costs). Each contender runs in a fresh
process (peak RSS is its own), alternating, median of --repeats. Reports the ratios.
"""

from __future__ import annotations

import argparse
import json
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
which, series, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
df = frame(series, points)
t0 = time.perf_counter()
if which == "ours":
    from ops_pipelines.lib.aiops.anomalies import score_metrics
    from ops_pipelines.lib.aiops.rollups import rollup
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
    t0 = time.perf_counter()
    con = duckdb.connect()
    out = con.execute("SELECT date_trunc('hour', timestamp) h, service, metric, count(*), count(*) FILTER (WHERE is_anomaly), max(anomaly_score), avg(anomaly_score), min(timestamp) FILTER (WHERE is_anomaly), max(timestamp) FILTER (WHERE is_anomaly) FROM df GROUP BY ALL").df()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": len(out), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def trial(which: str, series: int, points: int) -> dict:
    res = subprocess.run([sys.executable, "-c", TRIAL, which, str(series), str(points)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"ours": [], "pandas": [], "duckdb": []}
    for i in range(args.repeats):
        for which in runs:
            r = trial(which, args.series, args.points)
            runs[which].append(r)
            print(f"  run {i + 1} {which:<7} {r['seconds']:7.2f} s  peak {r['peak_mb']:6.0f} MB")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
    print(f"median s: ours {med['ours']:.2f}, pandas rolling baseline {med['pandas']:.2f}, duckdb floor {med['duckdb']:.2f}")
    print(f"speed-up vs pandas {med['pandas'] / med['ours']:.1f}x; ours / floor {med['ours'] / med['duckdb']:.1f}x; "
          f"peak MB ours {peak['ours']:.0f} (includes the {args.series * args.points / 1e6:.0f}M-point input frame)")


if __name__ == "__main__":
    main()
