"""Ingestion benchmark: our metrics ingestion vs plain pandas on the same 10M-row CSV.

Usage: python benchmarks/ingestion.py [--rows 10000000] [--repeats 3] [--workdir DIR]

Each trial runs in a fresh process (so peak RSS is that trial's own) and the two contenders
alternate, so machine noise hits both alike. Reports medians, the ratio ours/baseline and
peak memory. Baseline: `pandas.read_csv` + `to_parquet`. Ours: validation, UTC
normalisation, de-duplication, sort, quarantine and the atomic Parquet write.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DAY = "2026-03-02"

TRIAL = r"""
import json, resource, sys, time
from pathlib import Path
which, root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
if which == "baseline":
    import pandas as pd
    df = pd.read_csv(root / "metrics" / "%(day)s" / "metrics.csv")
    df.to_parquet(out)
    rows = len(df)
else:
    import pandas as pd
    from ops_pipelines.lib.ingest.landing import ingest_partition
    from ops_pipelines.io.parquet import write_parquet_atomic
    r = ingest_partition("metrics", root, "%(day)s", now=pd.Timestamp("2026-03-03T00:00:00Z"))
    write_parquet_atomic(r.rows, out)
    rows = len(r.rows)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""".replace("%(day)s", DAY)


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Long-format metrics for one day at 1-minute resolution: rows/1440 series."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    stamps = pd.date_range(DAY, periods=1440, freq="min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = 1440 * 500
    with open(path, "w") as fh:
        fh.write("timestamp,service,metric,value,host\n")
        for start in range(0, rows, chunk):
            idx = np.arange(start, min(rows, start + chunk))
            series = idx // 1440
            frame = pd.DataFrame({
                "timestamp": stamps[idx % 1440],
                "service": np.char.add("svc-", (series % 60).astype(str)),
                "metric": np.char.add("metric_", (series // 60 % 12).astype(str)),
                "value": np.round(rng.gamma(2.0, 50.0, len(idx)), 3),
                "host": np.char.add("host-", (series // 720).astype(str)),
            })
            frame.to_csv(fh, header=False, index=False)


def trial(which: str, root: Path, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", TRIAL, which, str(root), str(out)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ops_bench_"))
    csv = work / "landing" / "metrics" / DAY / "metrics.csv"
    if not csv.exists():
        make_csv(csv, args.rows)
    print(f"input: {csv} ({csv.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows)")
    results: dict[str, list[dict]] = {"baseline": [], "ours": []}
    for i in range(args.repeats):
        for which in ("baseline", "ours"):
            r = trial(which, work / "landing", work / f"{which}.parquet")
            results[which].append(r)
            print(f"  run {i + 1} {which:<8} {r['seconds']:6.2f} s  peak {r['peak_mb']:7.0f} MB  rows {r['rows']:,}")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    peak = {k: statistics.median(r["peak_mb"] for r in v) for k, v in results.items()}
    print(f"median seconds: baseline {med['baseline']:.2f}, ours {med['ours']:.2f}; ratio ours/baseline {med['ours'] / med['baseline']:.2f}")
    print(f"median peak RSS MB: baseline {peak['baseline']:.0f}, ours {peak['ours']:.0f}")


if __name__ == "__main__":
    main()
