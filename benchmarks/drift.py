"""Drift benchmark: our `compute_drift` vs bare Evidently DataDriftPreset on the same 1M-row frames.

Usage: python benchmarks/drift.py [--rows 1000000] [--repeats 3] [--evidently-repeats 3] [--workdir DIR]

Reference and current are each --rows x 20 columns (15 numeric, 5 categorical, seeded; 4 numeric
and 2 categorical columns shifted, a few NaN/inf cells), written once as Parquet. Each trial runs
in a fresh process and the contenders alternate. A trial loads both frames, records the resident
memory they take (the data's own footprint), resets the peak counter (/proc/self/clear_refs), then
times only the drift call (imports excluded, Evidently's import time is reported apart), as wall
and as CPU time (user + sys: steadier when the machine is shared). Reports medians, the ratios, peak RSS above the loaded data, and whether every per-column verdict
and the dataset verdict agree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TRIAL = r"""
import json, re, resource, sys, time
from pathlib import Path

def rss_mb(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(field + r":\s+(\d+) kB", text).group(1)) / 1024

which, work = sys.argv[1], Path(sys.argv[2])
import pandas as pd
t0 = time.perf_counter()
if which == "evidently":
    import evidently.presets  # noqa: F401  (10+ s; timed apart)
from ops_pipelines.lib.mlops.drift import compute_drift, evidently_drift
import scipy.spatial.distance, scipy.stats  # noqa: E401,F401  (ours imports them lazily; both pay it here)
import_s = time.perf_counter() - t0
before = rss_mb("VmRSS")
ref = pd.read_parquet(work / "reference.parquet")
cur = pd.read_parquet(work / "current.parquet")
data_mb = rss_mb("VmRSS") - before
frames_mb = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**20
base = rss_mb("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the peak below is the drift call's own
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

t0, c0 = time.perf_counter(), cpu()
result = compute_drift(ref, cur) if which == "ours" else evidently_drift(ref, cur)
seconds, cpu_s = time.perf_counter() - t0, cpu() - c0
print(json.dumps({
    "seconds": seconds, "cpu_s": cpu_s, "import_s": import_s, "data_mb": data_mb, "frames_mb": frames_mb,
    "peak_above_data_mb": rss_mb("VmHWM") - base,
    "dataset_drift": result.dataset_drift, "drift_share": result.drift_share,
    "columns": {k: [c.method, c.score, c.drifted] for k, c in result.columns.items()},
}))
"""


def make_frames(work: Path, rows: int, seed: int = 0) -> None:
    """15 numeric + 5 categorical columns; current shifts num_00..num_03 and cat_0, cat_1."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def frame(shifted: bool) -> pd.DataFrame:
        s = 1.0 if shifted else 0.0
        cols: dict[str, object] = {
            "num_00": rng.normal(0.3 * s, 1.0, rows),  # mean shift
            "num_01": rng.normal(0.0, 1.0 + 0.5 * s, rows),  # scale change
            "num_02": rng.lognormal(0.2 * s, 1.0, rows),  # skewed, shifted
            "num_03": rng.poisson(20 + 5 * s, rows),  # counts (int, many values: numeric)
            "num_04": rng.choice([0.0, 0.5, 1.0], rows),  # 3 values: Jensen-Shannon path
        }
        for i in range(5, 12):
            cols[f"num_{i:02d}"] = rng.normal(i, 1.0 + i / 10, rows)
        cols["num_12"] = rng.gamma(2.0, 3.0, rows)
        cols["num_13"] = rng.exponential(5.0, rows)
        cols["num_14"] = rng.integers(0, 10_000, rows)
        cols["cat_0"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1])
        cities = np.array([f"city_{i:02d}" for i in range(40)])
        weights = np.linspace(1.0, 2.0, 40)
        cols["cat_1"] = rng.choice(cities, rows, p=(weights[::-1] if shifted else weights) / weights.sum())
        cols["cat_2"] = rng.choice(["free", "pro", "enterprise"], rows, p=[0.7, 0.25, 0.05])
        cols["cat_3"] = rng.random(rows) < 0.2
        cols["cat_4"] = rng.choice(["eu", "us", "ap", "sa", "af"], rows)
        out = pd.DataFrame(cols)
        holes = rng.random(rows) < 0.001  # a few missing and infinite cells, as real exports have
        out.loc[holes, "num_12"] = np.nan
        out.loc[rng.random(rows) < 0.0005, "num_13"] = np.inf
        return out

    work.mkdir(parents=True, exist_ok=True)
    frame(False).to_parquet(work / "reference.parquet", index=False)
    frame(True).to_parquet(work / "current.parquet", index=False)


def trial(which: str, work: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", TRIAL, which, str(work)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{which} trial failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="trials of ours")
    parser.add_argument("--evidently-repeats", type=int, default=3, help="trials of Evidently (about 2 min each at 1M rows)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ops_drift_bench_"))
    if not (work / "current.parquet").exists():
        make_frames(work, args.rows)
    print(f"data: {work} ({args.rows:,} rows x 20 columns, reference and current)")
    results: dict[str, list[dict]] = {"ours": [], "evidently": []}
    for i in range(max(args.repeats, args.evidently_repeats)):
        for which, n in (("ours", args.repeats), ("evidently", args.evidently_repeats)):
            if i >= n:
                continue
            r = trial(which, work)
            results[which].append(r)
            print(f"  run {i + 1} {which:<9} {r['seconds']:7.2f} s wall {r['cpu_s']:7.2f} s cpu  peak above data {r['peak_above_data_mb']:6.0f} MB"
                  f"  (data {r['data_mb']:.0f} MB RSS, {r['frames_mb']:.0f} MB frames; import {r['import_s']:.1f} s)", flush=True)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items() if v}
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in results.items() if v}
    peak = {k: statistics.median(r["peak_above_data_mb"] for r in v) for k, v in results.items() if v}
    print(f"median seconds: ours {med['ours']:.2f} wall / {cpu['ours']:.2f} cpu (n={len(results['ours'])})", end="")
    if "evidently" in med:
        print(f", evidently {med['evidently']:.2f} wall / {cpu['evidently']:.2f} cpu (n={len(results['evidently'])}); "
              f"speed-up {med['evidently'] / med['ours']:.1f}x wall, {cpu['evidently'] / cpu['ours']:.1f}x cpu")
        print(f"median peak RSS above data MB: ours {peak['ours']:.0f}, evidently {peak['evidently']:.0f}")
        ours, theirs = results["ours"][0], results["evidently"][0]
        differ = [k for k in theirs["columns"] if ours["columns"].get(k, [None, None, None])[2] != theirs["columns"][k][2]]
        worst = max(abs(ours["columns"][k][1] - theirs["columns"][k][1]) for k in theirs["columns"])
        same_set = set(ours["columns"]) == set(theirs["columns"])
        print(f"verdicts: {len(theirs['columns'])} columns, same columns {same_set}, disagreeing {differ or 'none'}, "
              f"largest score difference {worst:.2e}; dataset drift ours {ours['dataset_drift']} "
              f"({ours['drift_share']:.2f}) evidently {theirs['dataset_drift']} ({theirs['drift_share']:.2f})")
        for k in theirs["columns"]:
            o, t = ours["columns"][k], theirs["columns"][k]
            print(f"    {k:<7} {t[0]:<14} evidently {t[1]:.6g} {t[2]!s:<5}  ours {o[1]:.6g} {o[2]}")
    else:
        print(f"\nmedian peak RSS above data MB: ours {peak['ours']:.0f}")


if __name__ == "__main__":
    main()
