"""Opt-in: ROC-AUC of the shipped `rudeness` score on a politeness-annotated CSV (impolite vs polite quartiles).

    python benchmarks/rudeness_eval.py --csv /work/shared/datasets/tone/stack-exchange.annotated.csv
        [--text-column Request] [--score-column "Normalized Score"] [--group-column Community]

Impolite = bottom quartile of the score column, polite = top quartile (quartiles of the whole
file), as in Danescu-Niculescu-Mizil et al. (2013). Works on any file of that layout (the corpus'
Wikipedia half too). Prints ROC-AUC of `rudeness()` (the shipped score: rudest sentence mixed with its
rudest sentence pair), of the whole text scored at once, of the rudest sentence alone, of the learned weights
alone (no rude-wording prior) and of VADER's negated compound score; with --group-column, per
group too.
Caution: the shipped model was trained on the Stack Overflow rows of the Stack Exchange file, so
on those rows these figures are tuned on (benchmarks/train_rudeness.py reports cross-validated ones).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.rudeness import model, rudeness_probs, sentences


def scores(texts: list[str]) -> dict[str, np.ndarray]:
    m = model()
    out = {"rudeness": rudeness_probs(texts),
           "whole_text": np.array([m.sentence_prob(t) for t in texts]),
           "rudest_sentence": np.array([max(m.sentence_prob(s) for s in sentences(t) or [t]) for t in texts]),
           "learned_weights_only": np.array([m.text_prob(t, boost=0.0) for t in texts])}
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    out["vader_negated_compound"] = -np.array([vader.polarity_scores(t)["compound"] for t in texts])
    return out


def main() -> None:
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--text-column", default="Request")
    parser.add_argument("--score-column", default="Normalized Score")
    parser.add_argument("--group-column", default=None)
    args = parser.parse_args()
    t = pd.read_csv(args.csv)
    lo, hi = t[args.score_column].quantile([0.25, 0.75])
    d = t[(t[args.score_column] <= lo) | (t[args.score_column] >= hi)].reset_index(drop=True)
    y = (d[args.score_column] <= lo).astype(int).to_numpy()
    s = scores(d[args.text_column].astype(str).tolist())
    result = {"rows": len(d), "impolite": int(y.sum()), **{k: round(float(roc_auc_score(y, v)), 4) for k, v in s.items()}}
    if args.group_column:
        for g, idx in d.groupby(args.group_column).groups.items():
            if 0 < y[idx].sum() < len(idx):
                result[f"rudeness[{g}]"] = round(float(roc_auc_score(y[idx], s["rudeness"][idx])), 4)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
