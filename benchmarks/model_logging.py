"""Time to log and register a candidate model in MLflow (SQLite store in a temp dir), separate from the fit.

One warm-up run pays the one-time imports (skops imports every sklearn estimator, ~3 s), then the
median of `--runs` train_candidate calls. Target: logging < 1 s per run.
Usage: python benchmarks/model_logging.py [--runs 5] [--rows 5000] [--model ctr_logreg]"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def clicks(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-03-01T00:00:00Z") + pd.to_timedelta(np.sort(rng.integers(0, 5 * 86_400_000, n)), unit="ms")
    frame = pd.DataFrame({
        "timestamp": ts, "position": rng.integers(1, 11, n).astype("int32"), "item_popularity": rng.random(n),
        "price": rng.lognormal(3.0, 0.8, n), "category": rng.choice(["books", "home", "fashion"], n),
        "user_segment": rng.choice(["new", "regular", "loyal"], n), "device": rng.choice(["ios", "android", "web"], n),
        "country": rng.choice(["DE", "US"], n),
    })
    logit = -0.5 - 0.35 * frame["position"] + 2.0 * frame["item_popularity"]
    frame["clicked"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int8")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--model", default="ctr_logreg")
    args = parser.parse_args()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

    from ops_pipelines.lib.mlops.config import model_spec
    from ops_pipelines.lib.mlops.datasets import DatasetStore
    from ops_pipelines.lib.mlops.selection import split_holdout
    from ops_pipelines.lib.mlops.tracking import configure_mlflow
    from ops_pipelines.lib.mlops.training import train_candidate

    spec = model_spec(args.model)
    with tempfile.TemporaryDirectory(prefix="ops_bench_mlflow_") as tmp:
        root = Path(tmp)
        client = configure_mlflow(f"sqlite:///{(root / 'mlflow.db').as_posix()}", root / "artifacts")
        store = DatasetStore(root / "datasets")
        results = []
        for i in range(args.runs + 1):  # run 0 is the warm-up
            frame = clicks(args.rows, seed=i)
            dataset = store.write(spec.name, frame, {"window": "bench"})
            train, holdout = split_holdout(frame, spec)
            t0 = time.perf_counter()
            cand = train_candidate(spec, dataset, train, holdout, client=client)
            results.append((cand.fit_seconds, cand.logging_seconds, time.perf_counter() - t0))
        warm, timed = results[0], results[1:]
        med = [statistics.median(r[k] for r in timed) for k in range(3)]
        print(f"{spec.name}, {args.rows} rows, SQLite store; warm-up run: fit {warm[0]:.2f} s, "
              f"log+register {warm[1]:.2f} s, total {warm[2]:.2f} s")
        print(f"median of {args.runs}: fit {med[0]:.3f} s, log+register {med[1]:.3f} s "
              f"(min {min(r[1] for r in timed):.3f}, max {max(r[1] for r in timed):.3f}), "
              f"whole train_candidate {med[2]:.3f} s")


if __name__ == "__main__":
    main()
