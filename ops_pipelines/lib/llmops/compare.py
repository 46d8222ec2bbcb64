"""Prompt-version comparison with bootstrap confidence intervals, on comparable traffic.

Versions are compared within the same app and model (traffic is split between prompt versions
per model), and the per-model differences are pooled by resampling traces within each model
(a stratified bootstrap), so a version that mostly ran on a cheaper model is not credited for it.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

# metric -> (column, True if lower is better)
METRICS = {
    "hallucination_rate": ("hallucinated", True),
    "toxicity_rate": ("toxic", True),
    "pii_rate": ("pii_found", True),
    "refusal_rate": ("refusal", True),
    "groundedness": ("groundedness", False),
    "relevance": ("relevance", False),
    "latency_ms": ("latency_ms", True),
    "cost_per_response_usd": ("cost_usd", True),
}
COLUMNS = ["app", "version_a", "version_b", "metric", "value_a", "value_b", "difference", "ci_low", "ci_high",
           "n_a", "n_b", "better", "verdict"]


def compare_versions(scores: pd.DataFrame, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """For every app and pair of prompt versions: difference b - a per metric with a CI and a verdict."""
    answered = scores[scores["status"] == "ok"]
    rows = []
    for app, traffic in answered.groupby("app", sort=True):
        versions = sorted(traffic["prompt_version"].astype(str).unique())
        for a, b in combinations(versions, 2):
            pair = traffic[traffic["prompt_version"].astype(str).isin([a, b])]
            for metric, (column, lower_better) in METRICS.items():
                rows.append(_compare(app, a, b, pair, metric, column, lower_better, resamples, seed, level))
    return pd.DataFrame(rows, columns=COLUMNS)


def _compare(app, a, b, pair, metric, column, lower_better, resamples, seed, level) -> dict:
    rng = np.random.default_rng(seed)
    diffs = np.zeros(resamples)
    weights, point = [], []
    n_a = n_b = 0
    for _, stratum in pair.groupby("model", sort=True):
        va = pd.to_numeric(stratum.loc[stratum["prompt_version"].astype(str) == a, column], errors="coerce").dropna().to_numpy(float)
        vb = pd.to_numeric(stratum.loc[stratum["prompt_version"].astype(str) == b, column], errors="coerce").dropna().to_numpy(float)
        if len(va) < 2 or len(vb) < 2:
            continue  # a model that served only one version says nothing about the difference
        w = len(va) + len(vb)
        weights.append(w)
        point.append((va.mean(), vb.mean()))
        boot_a = va[rng.integers(0, len(va), (resamples, len(va)))].mean(axis=1)
        boot_b = vb[rng.integers(0, len(vb), (resamples, len(vb)))].mean(axis=1)
        diffs += w * (boot_b - boot_a)
        n_a, n_b = n_a + len(va), n_b + len(vb)
    if not weights:
        return dict(zip(COLUMNS, [app, a, b, metric, np.nan, np.nan, np.nan, np.nan, np.nan, n_a, n_b, None, "not enough comparable traffic"]))
    total = float(sum(weights))
    value_a = sum(w * p[0] for w, p in zip(weights, point)) / total
    value_b = sum(w * p[1] for w, p in zip(weights, point)) / total
    diffs /= total
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    if low <= 0 <= high:
        better, verdict = None, f"cannot tell yet ({level:.0%} CI includes 0)"
    else:
        b_better = (high < 0) if lower_better else (low > 0)
        better = b if b_better else a
        verdict = f"{better} is better ({level:.0%} CI excludes 0)"
    return dict(zip(COLUMNS, [app, a, b, metric, value_a, value_b, value_b - value_a, low, high, n_a, n_b, better, verdict]))
