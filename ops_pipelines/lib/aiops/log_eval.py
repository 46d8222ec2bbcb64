"""Scores for log parsing and line-level log anomaly detection against labelled logs (Loghub style)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def grouping_accuracy(truth: pd.Series | list, predicted: pd.Series | list) -> float:
    """Loghub's grouping accuracy: the share of lines whose predicted group holds exactly the lines
    of their true group (a true group split in two, or merged with another, counts all its lines wrong)."""
    truth = pd.Series(np.asarray(truth, dtype=object))
    predicted = pd.Series(np.asarray(predicted, dtype=object))
    if len(truth) != len(predicted):
        raise ValueError(f"truth has {len(truth)} lines, predicted {len(predicted)}")
    if not len(truth):
        return 0.0
    pair = pd.DataFrame({"t": truth, "p": predicted})
    true_size = pair.groupby("t")["p"].transform("size")
    pred_size = pair.groupby("p")["t"].transform("size")
    pair_size = pair.groupby(["t", "p"])["t"].transform("size")
    # A line is right when its (true, predicted) pair covers both whole groups.
    correct = (pair_size == true_size) & (pair_size == pred_size)
    return float(correct.mean())


def line_scores(predicted, actual) -> dict[str, float | int]:
    """Precision, recall and F1 of line-level alerts (an empty prediction has precision 0)."""
    p, y = np.asarray(predicted, dtype=bool), np.asarray(actual, dtype=bool)
    tp, fp, fn = int((p & y).sum()), int((p & ~y).sum()), int((~p & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"lines": int(len(p)), "alerts": int(y.sum()), "flagged": int(p.sum()), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def per_level(levels, predicted, actual) -> dict[str, dict]:
    """`line_scores` within each level."""
    levels = np.asarray(levels, dtype=object)
    p, y = np.asarray(predicted, dtype=bool), np.asarray(actual, dtype=bool)
    return {str(level): line_scores(p[levels == level], y[levels == level]) for level in sorted(set(levels.tolist()))}
