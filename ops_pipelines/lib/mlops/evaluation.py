"""Candidate vs champion on the same later window, overall and per slice, and the promotion gate.

`delta` is always the candidate's improvement (positive = candidate better), so for log_loss it is
champion - candidate. Slices with fewer than MIN_SLICE_ROWS rows, or where the metric is undefined
(roc_auc and average_precision need both classes), are listed with a `skipped` reason and do
not gate: a handful of rows would let noise block or pass a promotion. For the same reason a slice
blocks a promotion only when it loses more than `max_slice_drop` with 95% confidence: a slice of a
few hundred rows moves ROC-AUC by several points between two samples of the same world, so its
loss is judged by the upper bound of a paired bootstrap interval of the candidate's improvement
(SLICE_BOOTSTRAP resamples of the slice's rows, seeded).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ops_pipelines import keys
from ops_pipelines.lib.mlops.config import ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient

MIN_SLICE_ROWS = 100
SLICE_BOOTSTRAP = 200
SEED = 0
HIGHER_IS_BETTER = {"roc_auc": True, "average_precision": True, "accuracy": True, "log_loss": False}
MISSING = "<missing>"


@dataclass(frozen=True)
class Evaluation:
    metric: str
    rows: int
    candidate_metric: float
    champion_metric: float | None  # None: no champion yet
    delta: float | None  # candidate improvement over the champion
    slices: list[dict[str, Any]] = field(default_factory=list)
    passed: bool = False
    reason: str = ""
    champion_version: int | None = None  # the champion compared against, when the caller knows it
    window: dict[str, Any] | None = None  # the evaluation window (windows.EvaluationWindow.to_dict())
    groups: list[dict[str, Any]] = field(default_factory=list)  # disparity per group column (fairness.disparity_gate)

    def to_metadata(self) -> dict[str, float | int | str | bool]:
        """Flat values for Dagster metadata and registry tags (no None, no nesting)."""
        out: dict[str, float | int | str | bool] = {
            "metric": self.metric, "rows": self.rows, "candidate_metric": self.candidate_metric,
            "passed": self.passed, "reason": self.reason,
            "slices_compared": sum(1 for s in self.slices if not s["skipped"]),
            "slices_skipped": sum(1 for s in self.slices if s["skipped"]),
        }
        if self.champion_metric is not None:
            out["champion_metric"] = self.champion_metric
        if self.delta is not None:
            out["delta"] = self.delta
        if self.champion_version is not None:
            out["champion_version"] = self.champion_version
        if self.window:
            out.update({"window_start": self.window["start"], "window_end": self.window["end"],
                        "window_days": float(self.window["days"]), "window_grown": bool(self.window.get("grown"))})
            out.update({f"window_labels_{c}": int(n) for c, n in self.window.get("labels", {}).items()})
        for g in self.groups:  # bias across groups: both models' disparity (best - worst group) per column
            for who in ("candidate", "champion"):
                if g[f"{who}_difference"] is not None:
                    out[f"disparity/{g['column']}/{who}"] = g[f"{who}_difference"]
        if self.groups:
            out["disparity_blocked"] = ",".join(g["column"] for g in self.groups if g["blocked"]) or "none"
        compared = [s for s in self.slices if s["delta"] is not None]
        if compared:
            worst = min(compared, key=lambda s: s["delta"])
            out["worst_slice"] = f"{worst['column']}={worst['value']}"
            out["worst_slice_delta"] = worst["delta"]
        return out


def metric_value(metric: str, y, p) -> float:
    """`metric` of scores `p` against labels `y`; NaN when undefined (one class for ranking metrics)."""
    import numpy as np
    from sklearn import metrics

    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown promotion metric {metric!r}; one of {sorted(HIGHER_IS_BETTER)}")
    if len(y) == 0:
        return float("nan")
    y = np.asarray(y)
    low, high = y.min(), y.max()  # the classes present, without np.unique's sort (bootstraps call this hundreds of times)
    if metric in ("roc_auc", "average_precision") and low == high:
        return float("nan")
    if metric == "roc_auc":
        return roc_auc(y == high, np.asarray(p))
    if metric == "average_precision":
        return float(metrics.average_precision_score(y, p))
    if metric == "log_loss":
        return float(metrics.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
    return float(metrics.accuracy_score(y, (p >= 0.5).astype(int)))


def roc_auc(positive, scores) -> float:
    """Binary ROC-AUC from ranks (Mann-Whitney U, ties counted half): sklearn's `roc_auc_score` value, at
    about a tenth of its cost, which the bootstrap gates pay hundreds of times a day. Ranks come from one
    stable sort (scipy's `rankdata` gives the same, at 2-4x the cost on bootstrap-sized slices)."""
    import numpy as np

    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    first = np.ones(len(ordered), dtype=bool)  # where a run of equal scores starts
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(ordered))
    ranks = ((starts + ends + 1) / 2.0)[np.cumsum(first) - 1]  # tied scores share their average 1-based rank
    u = float(ranks[positive[order]].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _improvement(metric: str, candidate: float, champion: float) -> float:
    return candidate - champion if HIGHER_IS_BETTER[metric] else champion - candidate


def upper_bound_95(statistic: Callable[..., float], strata: Sequence[Any], resamples: int = SLICE_BOOTSTRAP) -> float:
    """The gate's confidence rule: the 95% one-sided upper bound of `statistic` over `resamples` seeded bootstrap
    resamples. Each stratum (an array of row positions) is resampled with replacement within itself and
    `statistic(*resampled)` is called; undefined (NaN) resamples are left out. NaN when none is defined."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    values = []
    for _ in range(resamples):
        value = statistic(*(s[rng.integers(0, len(s), len(s))] for s in strata))
        if math.isfinite(value):
            values.append(value)
    return float(np.quantile(values, 0.95)) if values else math.nan


def resample_counts(strata: Sequence[Any], resamples: int = SLICE_BOOTSTRAP) -> list[np.ndarray]:
    """`upper_bound_95`'s resamples (the same seeded draws, in the same order) as per-row counts: one
    (resamples x rows) array per stratum."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    counts = [np.empty((resamples, len(s)), dtype=np.int32) for s in strata]
    for r in range(resamples):
        for k, s in enumerate(strata):
            counts[k][r] = np.bincount(rng.integers(0, len(s), len(s)), minlength=len(s))
    return counts


def roc_auc_resampled(positive, scores, counts: np.ndarray) -> np.ndarray:
    """`roc_auc` of each resample given as per-row counts (resamples x rows), without resorting each one: one
    sort, then the rank statistic from counts summed per tied score. NaN where a resample lacks a class."""
    import numpy as np

    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    ordered = np.asarray(scores, dtype=float)[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # where each run of equal scores starts
    weights = counts[:, order].astype(float)
    pos = np.add.reduceat(weights * positive[order], starts, axis=1)
    neg = np.add.reduceat(weights * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower; ties count half
    u = (pos * (below + 0.5 * neg)).sum(axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def improvement_upper_bound(metric: str, y, p_cand, p_champ, resamples: int = SLICE_BOOTSTRAP) -> float:
    """95% one-sided upper bound of the candidate's improvement over the champion on these rows
    (paired bootstrap: both models scored on the same resampled rows)."""
    import numpy as np

    def improvement(idx) -> float:
        cand, champ = metric_value(metric, y[idx], p_cand[idx]), metric_value(metric, y[idx], p_champ[idx])
        return _improvement(metric, cand, champ) if math.isfinite(cand) and math.isfinite(champ) else math.nan

    return upper_bound_95(improvement, [np.arange(len(y))], resamples)


def _slice_rows(spec: ModelSpec, window: pd.DataFrame, y, p_cand, p_champ) -> list[dict[str, Any]]:
    metric, out = spec.promotion.metric, []
    for column in spec.promotion.slices:
        if column not in window.columns:
            raise ValueError(f"slice column {column!r} is not in the evaluation window")
        keys = window[column].astype(object).where(window[column].notna(), MISSING).astype(str).to_numpy()
        for value in sorted(set(keys)):
            mask = keys == value
            cand = metric_value(metric, y[mask], p_cand[mask])
            champ = metric_value(metric, y[mask], p_champ[mask]) if p_champ is not None else None
            skipped = ""
            if mask.sum() < MIN_SLICE_ROWS:
                skipped = f"fewer than {MIN_SLICE_ROWS} rows"
            elif not math.isfinite(cand) or (champ is not None and not math.isfinite(champ)):
                skipped = f"{metric} undefined (one class)"
            delta = _improvement(metric, cand, champ) if champ is not None and not skipped else None
            # Only a slice that seems to lose too much pays for the bootstrap.
            upper = (improvement_upper_bound(metric, y[mask], p_cand[mask], p_champ[mask])
                     if delta is not None and -delta > spec.promotion.max_slice_drop else None)
            out.append({"column": column, "value": value, "rows": int(mask.sum()), "candidate": cand,
                        "champion": champ, "delta": delta, "delta_upper_95": upper, "skipped": skipped})
    return out


def compare(spec: ModelSpec, candidate_model: Any, champion_model: Any | None, window: pd.DataFrame, *,
            champion_version: int | None = None, window_info: Any = None) -> Evaluation:
    """Score both models on the same `window` (rows later than the candidate's training rows) and gate.
    `window_info`: the windows.EvaluationWindow the rows came from (a grown holdout says so in the reason)."""
    import pandas as pd

    from ops_pipelines.lib.mlops.training import check_frame, model_inputs

    check_frame(window, spec, "evaluation window")
    promo, metric = spec.promotion, spec.promotion.metric
    y = pd.to_numeric(window[spec.target]).astype(int).to_numpy()
    p_cand = candidate_model.predict_proba(model_inputs(candidate_model, window, spec))[:, 1]
    p_champ = (champion_model.predict_proba(model_inputs(champion_model, window, spec))[:, 1]
               if champion_model is not None else None)
    cand = metric_value(metric, y, p_cand)
    slices = _slice_rows(spec, window, y, p_cand, p_champ)
    info = window_info.to_dict() if window_info is not None else None
    base = {"metric": metric, "rows": len(y), "candidate_metric": cand, "slices": slices,
            "champion_version": champion_version, "window": info, "groups": _groups(spec, window, y, p_cand, p_champ)}
    if p_champ is None:
        ok = math.isfinite(cand)
        reason = (f"No champion yet: the candidate becomes the first champion with {metric} {cand:.4f} on {len(y)} rows."
                  if ok else f"No champion yet, but the candidate's {metric} is undefined on {len(y)} rows: not promoted.")
        return Evaluation(**base, champion_metric=None, delta=None, passed=ok, reason=reason + _window_note(window_info))

    champ = metric_value(metric, y, p_champ)
    if not (math.isfinite(cand) and math.isfinite(champ)):
        return Evaluation(**base, champion_metric=champ, delta=None, passed=False,
                          reason=f"{metric} is undefined on this window of {len(y)} rows (one class): keeping the champion."
                          + _window_note(window_info))
    delta = _improvement(metric, cand, champ)
    # A slice blocks when even the optimistic end of its interval loses more than max_slice_drop.
    dropped = [s for s in slices if s["delta_upper_95"] is not None and -s["delta_upper_95"] > promo.max_slice_drop]
    vs = f"{metric} {cand:.4f} vs champion {champ:.4f} (change {delta:+.4f}) on {len(y)} rows"
    if delta < promo.min_improvement:
        passed, reason = False, f"Rejected: {vs}; needs at least {promo.min_improvement:+.4f}."
    elif dropped:
        worst = min(dropped, key=lambda s: s["delta"])
        passed = False
        reason = (f"Rejected: {vs}, but {len(dropped)} slice(s) lose more than {promo.max_slice_drop:.4f} "
                  f"(95% confidence); worst {worst['column']}={worst['value']} ({worst['delta']:+.4f} on {worst['rows']} rows).")
    elif widened := [g for g in base["groups"] if g["blocked"]]:
        worst = max(widened, key=lambda g: g["widening"])
        passed = False
        reason = (f"Rejected: {vs}, but it widens the {spec.fairness.metric} disparity across {worst['column']} from "
                  f"{worst['champion_difference']:.4f} to {worst['candidate_difference']:.4f} (worst group "
                  f"{worst['candidate_worst_group']}): more than {spec.fairness.max_disparity_widening:.4f} with 95% confidence.")
    else:
        noisy = [s for s in slices if s["delta_upper_95"] is not None and s not in dropped]
        note = (f" ({len(noisy)} slice(s) drop more, but within sampling noise: worst "
                f"{min(noisy, key=lambda s: s['delta'])['column']}={min(noisy, key=lambda s: s['delta'])['value']})"
                if noisy else "")
        passed, reason = True, f"Promoted: {vs}; no slice loses more than {promo.max_slice_drop:.4f} with 95% confidence{note}."
    return Evaluation(**base, champion_metric=champ, delta=delta, passed=passed, reason=reason + _window_note(window_info))


def _groups(spec: ModelSpec, window: pd.DataFrame, y, p_cand, p_champ) -> list[dict[str, Any]]:
    """The disparity gate's figures per group column (none without a champion or group columns)."""
    if not spec.fairness.groups or p_champ is None:
        return []
    from ops_pipelines.lib.mlops.fairness import disparity_gate

    return disparity_gate(spec.fairness, window, y, p_cand, p_champ)


def _window_note(window: Any) -> str:
    """' Window: ...' when the holdout was grown for labels or still lacks them; '' otherwise."""
    if window is None or not (window.grown or not window.enough):
        return ""
    how = "grown back for labels" if window.grown else "holdout"
    return f" Window ({how}): {window.describe()}."


def apply_decision(client: MlflowClient, spec: ModelSpec, candidate_version: int, evaluation: Evaluation) -> str:
    """Move `champion` to the candidate when the gate passed, else make it `challenger`; tag the why."""
    from ops_pipelines.lib.mlops.registry import (
        CHALLENGER,
        CHAMPION,
        champion_version,
        set_alias,
        version_by_alias,
    )

    name, version = spec.registered_name, str(candidate_version)
    current = champion_version(client, name)
    if evaluation.champion_version is not None and (current is None or int(current.version) != evaluation.champion_version):
        raise RuntimeError(f"champion of {name} changed since the evaluation (compared with "
                           f"v{evaluation.champion_version}, now {current.version if current else 'none'}): re-evaluate")
    previous = str(current.version) if current is not None else "none"
    decision = "promoted" if evaluation.passed else "rejected"
    tags = {keys.MLFLOW_DECISION: decision, keys.MLFLOW_DECISION_REASON: evaluation.reason, keys.MLFLOW_COMPARED_WITH: previous,
            keys.MLFLOW_EVALUATION: json.dumps(evaluation.to_metadata(), sort_keys=True, default=str)}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if evaluation.passed:
        set_alias(client, name, CHAMPION, version)
        if previous not in ("none", version):
            # The old champion keeps its version number and artifacts; note who replaced it.
            client.set_model_version_tag(name, previous, keys.MLFLOW_REPLACED_BY, version)
        challenger = version_by_alias(client, name, CHALLENGER)
        if challenger is not None and str(challenger.version) == version:
            client.delete_registered_model_alias(name, CHALLENGER)
    else:
        set_alias(client, name, CHALLENGER, version)
    return decision
