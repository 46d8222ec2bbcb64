"""Train the `rudeness` model on the Stanford Politeness Corpus and write it as JSON (no pickle).

    python benchmarks/train_rudeness.py --tone /work/shared/datasets/tone [--out assets/llmops/rudeness_model.json]
        [--train-on stack-overflow|all] [--check-only]

Data: tone/stack-exchange.annotated.csv (Danescu-Niculescu-Mizil et al., ACL 2013, CC BY 4.0):
impolite = bottom quartile of `Normalized Score`, polite = top quartile (quartiles of the whole file).
Model: logistic regression over the binary features of `ops_pipelines.lib.llmops.rudeness.features`
(word unigrams and bigrams seen in >= MIN_DF requests, politeness strategies, rude-wording markers).
C is chosen by 10-fold cross-validation on the training rows. Printed and stored in the model file:
- the data check: 10-fold ROC-AUC within the Stack Overflow rows, within the other communities and
  on all rows. The non-Stack-Overflow rows carry no learnable signal in this copy (within-rows AUC
  ~0.57, a model trained on Stack Overflow scores them at ~0.52, "please"/"thanks" alone 0.50),
  although their five annotators agree as well as on Stack Overflow: the texts do not match their
  scores there. Hence the default --train-on stack-overflow.
- scoring a request whole vs. as its most impolite sentence (what `rudeness()` does to answers).
- VADER's compound score on the same rows when vaderSentiment is installed (reference only).
The threshold of the `rude` flag is the 99.5th percentile of the scores of the sample world's
normal answers (neither rude nor insulting; seed 7, 14 days), rounded up to 2 decimals: a
false-flag budget of 0.5% on normal traffic, set without looking at the rude answers. The share of
that world's rude answers flagged is printed alongside.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.rudeness import MODEL_PATH, RudenessModel, features, rudeness_probs, sentences

MIN_DF = 5
C_GRID = (0.1, 0.3, 1.0)
FOLDS = 10
SEED = 0
WORLD_SEED, WORLD_DAYS, FALSE_FLAG_BUDGET = 7, 14, 0.005  # 14 days: incident days answer differently


def quartiles(path: Path) -> pd.DataFrame:
    """Bottom (impolite, y=1) and top (polite, y=0) quartile rows, with `so` = Stack Overflow row."""
    t = pd.read_csv(path)
    lo, hi = t["Normalized Score"].quantile([0.25, 0.75])
    d = t[(t["Normalized Score"] <= lo) | (t["Normalized Score"] >= hi)].copy()
    d["y"] = (d["Normalized Score"] <= lo).astype(int)
    d["so"] = d["Community"].str.contains("Stack Overflow")
    return d.reset_index(drop=True)


def fit(texts: list[str], y: np.ndarray, c: float) -> RudenessModel:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(analyzer=features, binary=True, min_df=MIN_DF)
    lr = LogisticRegression(C=c, max_iter=5000).fit(vec.fit_transform(texts), y)
    weights = {f: round(float(w), 5) for f, w in zip(vec.get_feature_names_out(), lr.coef_[0]) if abs(w) >= 1e-5}
    return RudenessModel(weights, round(float(lr.intercept_[0]), 5), 0.5)


def whole(m: RudenessModel, texts: list[str]) -> np.ndarray:
    return np.array([m.sentence_prob(t) for t in texts])


def cv_auc(d: pd.DataFrame, c: float, scorer=whole) -> float:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    pred = np.zeros(len(d))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(d, d["y"]):
        m = fit(d["Request"].iloc[tr].tolist(), d["y"].to_numpy()[tr], c)
        pred[te] = scorer(m, d["Request"].iloc[te].tolist())
    return float(roc_auc_score(d["y"], pred))


def data_check(d: pd.DataFrame, c: float) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    so, rest = d[d["so"]], d[~d["so"]]
    m = fit(so["Request"].tolist(), so["y"].to_numpy(), c)
    return {"cv_auc_stack_overflow_rows": cv_auc(so, c), "cv_auc_other_community_rows": cv_auc(rest, c),
            "cv_auc_all_rows": cv_auc(d, c),
            "auc_trained_on_stack_overflow_scored_on_other_communities": float(
                roc_auc_score(rest["y"], whole(m, rest["Request"].tolist())))}


def vader(d: pd.DataFrame) -> dict[str, float]:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return {}
    from sklearn.metrics import roc_auc_score

    neg = -np.array([SentimentIntensityAnalyzer().polarity_scores(t)["compound"] for t in d["Request"]])
    return {"vader_auc_all_rows": float(roc_auc_score(d["y"], neg)),
            "vader_auc_stack_overflow_rows": float(roc_auc_score(d["y"][d["so"]], neg[d["so"].to_numpy()]))}


def world_threshold(m: RudenessModel) -> tuple[float, dict[str, float]]:
    """Threshold = the FALSE_FLAG_BUDGET upper quantile of the normal answers' scores; figures."""
    from ops_pipelines.lib.sim import simulate_world

    root = Path(tempfile.mkdtemp(prefix="rudeness_world_"))
    simulate_world(root, dt.date(2026, 3, 2), WORLD_DAYS, seed=WORLD_SEED)
    labels = {r["trace_id"]: r for r in map(json.loads, (root / "ground_truth" / "llm_labels.jsonl").read_text().splitlines())}
    rows = []
    for f in sorted((root / "llm_traces").glob("*/traces.jsonl")):
        for line in f.read_text().splitlines():
            try:  # the sample world injects malformed lines on purpose
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    rows = [r for r in rows if isinstance(r, dict) and isinstance(r.get("answer"), str) and r.get("trace_id") in labels]
    scores = rudeness_probs([r["answer"] for r in rows], m)
    rude = np.array([labels[r["trace_id"]]["rude"] for r in rows])
    # Normal = neither rude nor an insult (insults are toxicity's, and rude too: not a false flag).
    normal = ~rude & ~np.array([labels[r["trace_id"]]["toxic"] for r in rows])
    threshold = math.ceil(float(np.quantile(scores[normal], 1 - FALSE_FLAG_BUDGET)) * 100) / 100
    return threshold, {"world_seed": WORLD_SEED, "world_days": WORLD_DAYS, "normal_answers": int(normal.sum()),
                       "rude_answers": int(rude.sum()), "false_flag_rate": float((scores[normal] >= threshold).mean()),
                       "rude_flagged_share": float((scores[rude] >= threshold).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tone", type=Path, required=True, help="folder holding stack-exchange.annotated.csv")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--train-on", choices=("stack-overflow", "all"), default="stack-overflow")
    parser.add_argument("--check-only", action="store_true", help="print the figures, write nothing")
    args = parser.parse_args()
    d = quartiles(args.tone / "stack-exchange.annotated.csv")
    train = d[d["so"]] if args.train_on == "stack-overflow" else d
    by_c = {c: cv_auc(train, c) for c in C_GRID}
    c = max(by_c, key=by_c.get)
    report = {"train_on": args.train_on, "train_rows": len(train), "cv_auc_by_C": by_c, "C": c,
              "cv_auc_max_sentence": cv_auc(train, c, lambda m, ts: rudeness_probs(ts, m)),
              "cv_auc_max_sentence_without_marker_boost": cv_auc(
                  train, c, lambda m, ts: np.array([max(m.sentence_prob(s, 0.0) for s in sentences(t)) for t in ts])),
              **data_check(d, c), **vader(d)}
    m = fit(train["Request"].tolist(), train["y"].to_numpy(), c)
    threshold, world = world_threshold(m)
    report["sample_world"] = world
    print(json.dumps(report, indent=2))
    if args.check_only:
        return
    doc = {
        "_doc": "Rudeness model of ops_pipelines.lib.llmops.rudeness: P(impolite) = sigmoid(intercept + sum of the "
                "weights of the features present in a sentence); an answer's score is its highest sentence; "
                "`rude` when score >= threshold. Written by benchmarks/train_rudeness.py; do not edit by hand.",
        "training_data": {"corpus": "Stanford Politeness Corpus, Stack Exchange half (stack-exchange.annotated.csv)",
                          "citation": "Danescu-Niculescu-Mizil, Sudhof, Jurafsky, Leskovec, Potts. A computational "
                                      "approach to politeness with application to social factors. ACL 2013.",
                          "licence": "corpus CC BY 4.0; this file holds weights learned from it, not its text "
                                     "beyond single words and word pairs",
                          "rows": f"{args.train_on} rows in the bottom (impolite) or top (polite) quartile of Normalized Score",
                          "n_rows": len(train)},
        "figures": report,
        "intercept": m.intercept, "threshold": threshold,
        "weights": dict(sorted(m.weights.items())),
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out} ({len(m.weights)} weights, threshold {threshold})")


if __name__ == "__main__":
    main()
