"""Throughput of `score_traces` (no LLM judge) on the sample world's traces, with and without embeddings.

    python benchmarks/llm_throughput.py [--days 1] [--repeats 3] [--seed 7]

One day of sample-world traces (about 1,600) is scored per trial; traces/s is the median of
--repeats trials per method. Each trial starts cold: the context-sentence index and the embedding
cache are cleared (the model and the toxicity classifier stay loaded: their load time is reported
on its own line, it is paid once per process). Methods alternate so machine load hits both alike.
The lexical trials set OPS_PIPELINES_EMBEDDINGS=0; without the extra only those run. Also
printed: each method's hallucination rate on these traces against the simulator's truth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.groundedness import _index
from ops_pipelines.lib.llmops.scores import score_traces
from ops_pipelines.lib.sim import simulate_world

START = dt.date(2026, 3, 2)


def _traces(days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    root = Path(tempfile.mkdtemp(prefix="llm_throughput_"))
    simulate_world(root, START, days, seed=seed)
    labels = pd.read_json(root / "ground_truth" / "llm_labels.jsonl", lines=True)
    return pd.concat([ingest_partition("llm_traces", root, str(START + dt.timedelta(days=i))).rows
                      for i in range(days)], ignore_index=True), labels


def _rates(out: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    ok = out[out["status"] == "ok"].merge(labels[["trace_id", "hallucinated"]], on="trace_id", suffixes=("", "_true"))
    return {"hallucinated_rate": round(float(ok["hallucinated"].astype(bool).mean()), 4),
            "true_hallucinated_rate": round(float(ok["hallucinated_true"].astype(bool).mean()), 4)}


def _trial(traces: pd.DataFrame, method: str) -> tuple[float, pd.DataFrame]:
    os.environ["OPS_PIPELINES_EMBEDDINGS"] = "1" if method == "embeddings" else "0"
    _index.cache_clear()
    if embeddings.available():
        embeddings.clear_cache()
    t = time.perf_counter()
    out = score_traces(traces, {}, {})
    elapsed = time.perf_counter() - t
    assert set(out["groundedness_method"].dropna()) == {method}, "method switch did not take"
    return len(traces) / elapsed, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    traces, labels = _traces(args.days, args.seed)
    methods = ["lexical", *(["embeddings"] if embeddings.available() else [])]
    t = time.perf_counter()
    for method in methods:  # warm up: toxicity classifier, model load
        os.environ["OPS_PIPELINES_EMBEDDINGS"] = "1" if method == "embeddings" else "0"
        score_traces(traces.head(10), {}, {})
    load_s = time.perf_counter() - t
    rates: dict[str, list[float]] = {m: [] for m in methods}
    quality = {}
    for _ in range(args.repeats):
        for method in methods:
            rate, out = _trial(traces, method)
            rates[method].append(rate)
            quality[method] = _rates(out, labels)
    result = {"traces": len(traces), "cpu_count": os.cpu_count(), "torch_threads": embeddings.torch_threads(),
              "load_seconds": round(load_s, 1),
              **{f"{m}_traces_per_s_median": round(statistics.median(r), 1) for m, r in rates.items()},
              **{f"{m}_traces_per_s_trials": [round(x, 1) for x in r] for m, r in rates.items()},
              **{f"{m}_sample_world": q for m, q in quality.items()}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
