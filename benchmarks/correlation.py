"""Correlation rules at platform scale: the indexed rules (ops_pipelines.lib.aiops.explain / incidents.correlate)
against a scan of every row per episode (the rules as written, tests/lib/aiops/test_explain_reference.py), side by
side on the same random day, for growing numbers of episodes. Both must agree; the scan grows with episodes x
history, the indexed rules with episodes.

Usage: python benchmarks/correlation.py [--episodes 500,2000,5000] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops_pipelines.lib.aiops import explain  # noqa: E402
from ops_pipelines.lib.aiops.incidents import CorrelationParams, correlate  # noqa: E402
from tests.lib.aiops import test_explain_reference as ref  # noqa: E402


def day(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """n episodes of one day, a week of history 8x as long, job runs and changes in proportion."""
    rng = np.random.default_rng(seed)
    history = pd.DataFrame({"service": rng.choice(ref.SERVICES, 8 * n), "signal_class": rng.choice(ref.CLASSES, 8 * n),
                            "start": ref.times(rng, 8 * n, 7)})
    return ref.episodes(rng, n), history, ref.windows(rng, max(n // 10, 1), 7), ref.windows(rng, max(n // 2, 1), 1)


def run_indexed(eps, history, jobs, changes):
    return (explain.recurring(eps, history, jobs, ref.TOPOLOGY, ref.P), explain.following_change(eps, changes, ref.P),
            explain.own_load(eps, ref.P).tolist(), [list(p.index) for p in correlate(eps, ref.TOPOLOGY, CorrelationParams())])


def run_scan(eps, history, jobs, changes):
    return (ref.recurring_by_scan(eps, history, jobs), ref.following_by_scan(eps, changes), ref.own_load_by_scan(eps).tolist(),
            ref.correlate_by_scan(eps, CorrelationParams()))


def timed(fn, inputs, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*inputs)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", default="500,2000,5000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for n in (int(x) for x in args.episodes.split(",")):
        inputs = day(n)
        indexed_s, a = timed(run_indexed, inputs, args.repeats)
        scan_s, b = timed(run_scan, inputs, args.repeats)
        rows.append({"episodes": n, "history": len(inputs[1]), "indexed_s": round(indexed_s, 3), "scan_s": round(scan_s, 3),
                     "speedup": round(scan_s / indexed_s, 1), "identical": a == b})
        print(f"{n:>6} episodes, {len(inputs[1]):>6} history: indexed {indexed_s:7.2f} s, scan {scan_s:7.2f} s "
              f"({rows[-1]['speedup']}x), identical {a == b}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
