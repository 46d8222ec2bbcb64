"""Prompt-version comparison with bootstrap confidence intervals, on comparable traffic.

Versions are compared within the same app and model (traffic is split between prompt versions
per model), and the per-model differences are pooled by resampling traces within each model
(a stratified bootstrap), so a version that mostly ran on a cheaper model is not credited for it. Metrics
measured on the same traces are resampled together (one draw per version and model, not one per metric).
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
            rows += _compare_pair(app, a, b, pair, resamples, seed, level)
    return pd.DataFrame(rows, columns=COLUMNS)


def _compare_pair(app, a, b, pair, resamples, seed, level) -> list[dict]:
    """Every metric of one pair: per model (stratum), bootstrap means of each version, pooled by stratum size."""
    rng = np.random.default_rng(seed)
    names = list(METRICS)
    diffs = np.zeros((resamples, len(names)))
    weight = np.zeros(len(names))
    point = np.zeros((2, len(names)))
    sizes = np.zeros((2, len(names)), dtype=int)
    for _, stratum in pair.groupby("model", sort=True):
        version = stratum["prompt_version"].astype(str)
        values = [_matrix(stratum[version == v]) for v in (a, b)]
        present = [~np.isnan(v) for v in values]
        n = [p.sum(axis=0) for p in present]
        usable = (n[0] >= 2) & (n[1] >= 2)  # a model that served only one version says nothing about the difference
        w = np.where(usable, n[0] + n[1], 0)
        boot = [_bootstrap_means(v, p, usable, rng, resamples) for v, p in zip(values, present)]
        diffs += w * np.nan_to_num(boot[1] - boot[0])
        for side in (0, 1):
            mean = np.divide(np.nansum(values[side], axis=0), n[side], out=np.zeros(len(names)), where=n[side] > 0)
            point[side] += w * mean
            sizes[side] += np.where(usable, n[side], 0)
        weight += w
    return [_verdict(app, a, b, name, METRICS[name][1], weight[i], point[:, i], diffs[:, i], sizes[:, i], level)
            for i, name in enumerate(names)]


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    """The metric columns as floats (rows x metrics), NaN where a value is missing or not a number."""
    return np.column_stack([pd.to_numeric(frame[column], errors="coerce").to_numpy(float) for column, _ in METRICS.values()])


def _bootstrap_means(values: np.ndarray, present: np.ndarray, usable: np.ndarray, rng, resamples: int) -> np.ndarray:
    """(resamples x metrics) means of each usable metric over rows resampled from its present values. Metrics
    present on the same rows share one draw (a paired bootstrap, and one draw instead of eight)."""
    out = np.full((resamples, values.shape[1]), np.nan)
    masks: dict[bytes, list[int]] = {}
    for i in np.flatnonzero(usable):
        masks.setdefault(present[:, i].tobytes(), []).append(i)
    for columns in masks.values():
        rows = values[present[:, columns[0]]][:, columns]
        m = len(rows)
        picks = rng.integers(0, m, (resamples, m)) + np.arange(resamples)[:, None] * m
        counts = np.bincount(picks.ravel(), minlength=resamples * m).reshape(resamples, m).astype(float)
        out[:, columns] = counts @ rows / m  # how often each row was drawn times its values: all metrics at once
    return out


def _verdict(app, a, b, metric, lower_better, weight, point, diffs, sizes, level) -> dict:
    n_a, n_b = int(sizes[0]), int(sizes[1])
    if not weight:
        return dict(zip(COLUMNS, [app, a, b, metric, np.nan, np.nan, np.nan, np.nan, np.nan, n_a, n_b, None, "not enough comparable traffic"]))
    value_a, value_b = point / weight
    low, high = np.quantile(diffs / weight, [(1 - level) / 2, (1 + level) / 2])
    if low <= 0 <= high:
        better, verdict = None, f"cannot tell yet ({level:.0%} CI includes 0)"
    else:
        b_better = (high < 0) if lower_better else (low > 0)
        better = b if b_better else a
        verdict = f"{better} is better ({level:.0%} CI excludes 0)"
    return dict(zip(COLUMNS, [app, a, b, metric, value_a, value_b, value_b - value_a, low, high, n_a, n_b, better, verdict]))
