"""Train the `rudeness` model on the Stanford Politeness Corpus and write it as JSON (no pickle).

    python benchmarks/train_rudeness.py --tone /work/shared/datasets/tone [--out assets/llmops/rudeness_model.json]
        [--train-on stack-overflow|all] [--check-only]

Data: tone/stack-exchange.annotated.csv (Danescu-Niculescu-Mizil et al., ACL 2013, CC BY 4.0):
impolite = bottom quartile of `Normalized Score`, polite = top quartile (quartiles of the whole file).
Model: logistic regression on whole requests over the binary features of
`ops_pipelines.lib.llmops.rudeness.features` (word unigrams and bigrams seen in >= MIN_DF requests,
politeness strategies, VADER sentiment bins, rude-wording markers). C is chosen by 10-fold
cross-validation on the training rows, scored as `rudeness()` scores (rudest sentence mixed with
its rudest pair of consecutive sentences). Printed and stored in the model file (held-out folds, not tuned on beyond C):
- the same CV scored as the whole text only, the rudest sentence only, and without the marker prior;
- the data check: random 10-fold ROC-AUC on all rows (fitted on the Stack Overflow rows of the
  training folds, or on all of them), within the other communities' rows, leave-one-community-out
  (each community scored by a model fitted on all the others) and Stack Overflow -> the others.
  The non-Stack-Overflow rows carry almost no learnable signal in this copy (within them ~0.54,
  either half scores the other at 0.52-0.55), although their five annotators agree as well as on
  Stack Overflow: the texts do not match their scores there. Hence the default --train-on
  stack-overflow, which is also the better of the two on random 10-fold CV over all rows.
- VADER's compound score on the same rows (reference).
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

from ops_pipelines.lib.llmops.rudeness import (
    MODEL_PATH,
    PAIR_WEIGHT,
    RudenessModel,
    features,
    rudeness_probs,
    sentences,
)

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


_FEATURES: dict[str, list[str]] = {}


def _cached_features(text: str) -> list[str]:
    """features() of a training text, computed once per run (the folds refit on the same texts)."""
    if text not in _FEATURES:
        _FEATURES[text] = features(text)
    return _FEATURES[text]


def fit(texts: list[str], y: np.ndarray, c: float) -> RudenessModel:
    """Logistic regression on whole requests (the unit the corpus labels)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(analyzer=_cached_features, binary=True, min_df=MIN_DF)
    lr = LogisticRegression(C=c, max_iter=5000).fit(vec.fit_transform(texts), y)
    weights = {f: round(float(w), 5) for f, w in zip(vec.get_feature_names_out(), lr.coef_[0]) if abs(w) >= 1e-5}
    return RudenessModel(weights, round(float(lr.intercept_[0]), 5), 0.5, PAIR_WEIGHT)


def shipped(m: RudenessModel, texts: list[str]) -> np.ndarray:
    """What rudeness() gives: rudest sentence mixed with its rudest sentence pair."""
    return rudeness_probs(texts, m)


def whole(m: RudenessModel, texts: list[str]) -> np.ndarray:
    return np.array([m.sentence_prob(t) for t in texts])


def rudest_sentence(m: RudenessModel, texts: list[str]) -> np.ndarray:
    return np.array([max(m.sentence_prob(s) for s in sentences(t) or [t]) for t in texts])


def no_marker_prior(m: RudenessModel, texts: list[str]) -> np.ndarray:
    return np.array([m.text_prob(t, boost=0.0) for t in texts])


def cv_auc(d: pd.DataFrame, c: float, scorer=shipped, train_mask: np.ndarray | None = None) -> dict[str, float]:
    """Random stratified 10-fold ROC-AUC of held-out predictions, on all rows of `d` and on its
    Stack Overflow / other rows; with `train_mask`, only those rows of the training folds are fitted on."""
    from sklearn.model_selection import StratifiedKFold

    pred = np.zeros(len(d))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(d, d["y"]):
        if train_mask is not None:
            tr = tr[train_mask[tr]]
        m = fit(d["Request"].iloc[tr].tolist(), d["y"].to_numpy()[tr], c)
        pred[te] = scorer(m, d["Request"].iloc[te].tolist())
    return _aucs(d, pred)


def _aucs(d: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    out = {"all": float(roc_auc_score(d["y"], pred))}
    so = d["so"].to_numpy()
    if so.any() and not so.all():
        out["stack_overflow_rows"] = float(roc_auc_score(d["y"][so], pred[so]))
        out["other_community_rows"] = float(roc_auc_score(d["y"][~so], pred[~so]))
    return {k: round(v, 4) for k, v in out.items()}


def leave_community_out(d: pd.DataFrame, c: float) -> dict[str, float]:
    """Each community scored by a model fitted on all the other communities (pooled ROC-AUC)."""
    pred = np.zeros(len(d))
    for idx in d.groupby("Community").groups.values():
        te = np.asarray(idx)
        tr = np.setdiff1d(np.arange(len(d)), te)
        pred[te] = shipped(fit(d["Request"].iloc[tr].tolist(), d["y"].to_numpy()[tr], c), d["Request"].iloc[te].tolist())
    return _aucs(d, pred)


def data_check(d: pd.DataFrame, c: float) -> dict[str, object]:
    """Where the corpus' labels can be learned: see the module doc."""
    from sklearn.metrics import roc_auc_score

    so, rest = d[d["so"]], d[~d["so"]]
    m = fit(so["Request"].tolist(), so["y"].to_numpy(), c)
    return {"cv_random_10fold_trained_on_stack_overflow_rows": cv_auc(d, c, train_mask=d["so"].to_numpy()),
            "cv_random_10fold_trained_on_all_rows": cv_auc(d, c),
            "cv_within_other_community_rows": cv_auc(rest.reset_index(drop=True), c)["all"],
            "leave_one_community_out_trained_on_all_other_rows": leave_community_out(d, c),
            "auc_trained_on_stack_overflow_scored_on_other_communities": round(float(
                roc_auc_score(rest["y"], shipped(m, rest["Request"].tolist()))), 4)}


def vader(d: pd.DataFrame) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    neg = -np.array([analyzer.polarity_scores(t)["compound"] for t in d["Request"]])
    return {"vader_auc_all_rows": round(float(roc_auc_score(d["y"], neg)), 4),
            "vader_auc_stack_overflow_rows": round(float(roc_auc_score(d["y"][d["so"]], neg[d["so"].to_numpy()])), 4)}


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
    train = (d[d["so"]] if args.train_on == "stack-overflow" else d).reset_index(drop=True)
    by_c = {c: cv_auc(train, c)["all"] for c in C_GRID}
    c = max(by_c, key=by_c.get)
    report = {"train_on": args.train_on, "train_rows": len(train), "cv_auc_by_C": by_c, "C": c,
              "cv_auc_shipped": by_c[c],
              "cv_auc_whole_text": cv_auc(train, c, whole)["all"],
              "cv_auc_rudest_sentence": cv_auc(train, c, rudest_sentence)["all"],
              "cv_auc_without_marker_prior": cv_auc(train, c, no_marker_prior)["all"],
              **data_check(d, c), **vader(d)}
    m = fit(train["Request"].tolist(), train["y"].to_numpy(), c)
    threshold, world = world_threshold(m)
    report["sample_world"] = world
    print(json.dumps(report, indent=2))
    if args.check_only:
        return
    doc = {
        "_doc": "Rudeness model of ops_pipelines.lib.llmops.rudeness: log-odds of a sentence or text = intercept + "
                "the weights of the features present (+ a fixed prior per kind of rude wording); a text's score "
                "is sigmoid((1 - pair_weight) * its rudest sentence's log-odds + pair_weight * its rudest "
                "pair of consecutive sentences' + the prior); `rude` when score >= threshold. Written by benchmarks/train_rudeness.py; do not "
                "edit by hand.",
        "training_data": {"corpus": "Stanford Politeness Corpus, Stack Exchange half (stack-exchange.annotated.csv)",
                          "citation": "Danescu-Niculescu-Mizil, Sudhof, Jurafsky, Leskovec, Potts. A computational "
                                      "approach to politeness with application to social factors. ACL 2013.",
                          "licence": "corpus CC BY 4.0; this file holds weights learned from it, not its text "
                                     "beyond single words and word pairs",
                          "rows": f"{args.train_on} rows in the bottom (impolite) or top (polite) quartile of Normalized Score",
                          "n_rows": len(train)},
        "figures": report,
        "intercept": m.intercept, "threshold": threshold, "pair_weight": m.pair_weight,
        "weights": dict(sorted(m.weights.items())),
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out} ({len(m.weights)} weights, threshold {threshold})")


if __name__ == "__main__":
    main()
