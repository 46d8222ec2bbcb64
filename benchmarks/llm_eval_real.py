"""Opt-in: LLM scorers on real labelled data (read only when given the path).

    python benchmarks/llm_eval_real.py --datasets /work/shared/datasets [--no-embeddings]

FRANK valid: groundedness ROC-AUC (faithful vs hallucinated summary), CNN/DM and XSum apart.
HaluEval QA: share of (right, hallucinated) pairs of a question where the right answer is more
grounded (ties count one half). Davidson: toxicity F1, toxic = hate or offensive.
Throughput: score_traces on the FRANK rows (long contexts) and on short QA rows, traces/s.
Groundedness uses the embedding method when the extra is installed; --no-embeddings forces the
lexical one (sets OPS_PIPELINES_EMBEDDINGS=0). The method used is printed as "method".
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.groundedness import _index, groundedness_many
from ops_pipelines.lib.llmops.scores import score_traces
from ops_pipelines.lib.llmops.toxicity import TOXIC_THRESHOLD, toxicity_probs


def _jsonl(path: Path) -> pd.DataFrame:
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def frank(root: Path) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    df = _jsonl(root / "llm" / "frank_valid.jsonl")
    df["g"] = groundedness_many(df["answer"].tolist(), [[c] for c in df["context"]])
    return {f"frank_auc_{ {'bbc': 'xsum'}.get(name, name)}": float(roc_auc_score(~part["is_hallucinated"].astype(bool), part["g"]))
            for name, part in df.groupby("dataset")}


def halueval(root: Path) -> dict[str, float]:
    df = _jsonl(root / "llm" / "halueval_qa.jsonl")
    df["g"] = groundedness_many(df["answer"].tolist(), [[c] for c in df["context"]])
    wins = []
    for _, q in df.groupby("qid"):
        right = q.loc[~q["is_hallucinated"].astype(bool), "g"]
        for g_wrong in q.loc[q["is_hallucinated"].astype(bool), "g"]:
            for g_right in right:
                wins.append(1.0 if g_right > g_wrong else 0.5 if g_right == g_wrong else 0.0)
    return {"halueval_pairwise_accuracy": sum(wins) / len(wins), "halueval_pairs": len(wins)}


def davidson(root: Path) -> dict[str, float]:
    df = pd.read_csv(root / "toxicity" / "davidson_first5000.csv")
    truth = df["class"].isin([0, 1])
    pred = pd.Series(toxicity_probs(df["tweet"].tolist()) >= TOXIC_THRESHOLD)
    tp = int((pred & truth).sum())
    precision, recall = tp / max(1, int(pred.sum())), tp / max(1, int(truth.sum()))
    return {"davidson_toxic_f1": 2 * precision * recall / (precision + recall), "davidson_precision": precision,
            "davidson_recall": recall}


def throughput(root: Path) -> dict[str, float]:
    out = {}
    qa = _jsonl(root / "llm" / "halueval_qa.jsonl")
    fr = _jsonl(root / "llm" / "frank_valid.jsonl")
    for name, df in (("short_qa", qa), ("news_articles", fr)):
        frame = pd.DataFrame({"trace_id": df["id"], "timestamp": pd.Timestamp("2026-03-02", tz="UTC"),
                              "model": "x", "question": df.get("question"), "contexts": df["context"].map(lambda c: [c]),
                              "answer": df["answer"], "status": "ok"})
        score_traces(frame.head(20), {}, {})  # warm up: classifier load
        _index.cache_clear()  # cold: contexts are not reused across these rows' first sight
        if embeddings.available():
            embeddings.clear_cache()
        t = time.perf_counter()
        score_traces(frame, {}, {})
        out[f"throughput_{name}_traces_per_s"] = len(frame) / (time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True, help="folder holding llm/ and toxicity/")
    parser.add_argument("--no-embeddings", action="store_true", help="lexical groundedness even with the extra")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if args.no_embeddings:
        os.environ["OPS_PIPELINES_EMBEDDINGS"] = "0"
    t = time.perf_counter()
    results = {"method": embeddings.method(), **frank(args.datasets), **halueval(args.datasets), **davidson(args.datasets),
               **({} if args.skip_throughput else throughput(args.datasets)), "wall_s": time.perf_counter() - t}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
