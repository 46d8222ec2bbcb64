"""Bias across groups: per-group quality of a model (fairlearn's MetricFrame), its disparity, the daily
"a group fell behind the rest" verdict and the promotion gate's "the candidate widens the disparity" rule.

Groups differ by nature (new users are harder to rank than regulars), so the daily verdict judges the
change of a group's gap to the rest against the same gap on the champion's holdout, not the gap itself.
Both verdicts use the slice gate's confidence rule (`evaluation.upper_bound_95`: 200 seeded bootstrap
resamples, one-sided 95%): a group is flagged, or a candidate blocked, only when even the optimistic end
of the interval is past the configured limit. A group with fewer than `min_labels_per_class` labels of a
class, or fewer than `evaluation.MIN_SLICE_ROWS` rows (today, in the rest, or in the reference), is
listed as skipped with the reason and never judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ops_pipelines.lib.mlops.config import FairnessSpec, ModelSpec
from ops_pipelines.lib.mlops.evaluation import (
    HIGHER_IS_BETTER,
    MIN_SLICE_ROWS,
    MISSING,
    _improvement,
    metric_value,
    resample_counts,
    roc_auc_resampled,
    upper_bound_95,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Scored:
    """Labelled rows and one model's scores on them (aligned arrays)."""

    frame: pd.DataFrame
    y: np.ndarray
    scores: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, y, scores) -> Scored:
        import numpy as np

        y, scores = np.asarray(y).astype(int), np.asarray(scores, dtype=float)
        if not (len(frame) == len(y) == len(scores)):
            raise ValueError(f"rows, labels and scores differ in length: {len(frame)}, {len(y)}, {len(scores)}")
        return cls(frame.reset_index(drop=True), y, scores)


@dataclass
class GroupReport:
    """Per group: rows, labels, metric, the rest's metric, the gap (negative: the group is worse), its change
    against the reference and the verdict; per column: fairlearn's between-groups difference and ratio."""

    metric: str
    margin: float
    groups: list[dict[str, Any]] = field(default_factory=list)
    disparities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flagged(self) -> list[dict[str, Any]]:
        return [g for g in self.groups if g["flagged"]]

    def max_disparity(self) -> float | None:
        values = [d["difference"] for d in self.disparities if d["difference"] is not None]
        return max(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "margin": self.margin, "groups": self.groups, "disparities": self.disparities}

    def flagged_text(self) -> str:
        """'user_segment=premium (-0.142 vs the rest, was -0.010)', ...; '' when none."""
        return ", ".join(f"{g['column']}={g['group']} ({g['gap']:+.3f} vs the rest, was {g['reference_gap']:+.3f})"
                         if g["reference_gap"] is not None else f"{g['column']}={g['group']} ({g['gap']:+.3f} vs the rest)"
                         for g in self.flagged)

    def table(self) -> str:
        """One Markdown table: a row per group (skipped ones with their reason)."""
        from ops_pipelines.lib.markdown import table

        num = lambda v: "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"
        rows = [[g["column"], g["group"], g["rows"], g["labels_1"], num(g["value"]), num(g["rest"]), num(g["gap"]),
                 num(g["reference_gap"]), num(g["change_upper_95"]), "yes" if g["flagged"] else ("skipped: " + g["skipped"]
                                                                                                   if g["skipped"] else "no")]
                for g in self.groups]
        return table(["column", "group", "rows", "positives", self.metric, "rest", "gap", "gap on holdout",
                      "change upper 95%", "flagged"], rows, right=["rows", "positives"], empty="no groups")


def group_keys(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column's values as text, missing values as '<missing>' (a group of their own, never dropped)."""
    if column not in frame.columns:
        raise ValueError(f"group column {column!r} is not in the rows (columns: {', '.join(map(str, frame.columns))})")
    values = frame[column]
    return values.astype(object).where(values.notna(), MISSING).astype(str).to_numpy()


def skip_reason(y: np.ndarray, min_labels: int, where: str) -> str:
    """Why `y` cannot be judged ('' when it can): too few rows, or too few labels of a class."""
    import numpy as np

    if len(y) < MIN_SLICE_ROWS:
        return f"fewer than {MIN_SLICE_ROWS} rows {where}"
    positives = int(np.sum(y))
    if min(positives, len(y) - positives) < min_labels:
        return f"fewer than {min_labels} labels of a class {where} ({len(y) - positives} / {positives})"
    return ""


def _guarded(metric: str, min_labels: int):
    """The metric for MetricFrame: NaN on a group that cannot be judged (fairlearn's difference skips NaN)."""

    def value(y_true, y_pred) -> float:
        import numpy as np

        y_true = np.asarray(y_true)
        return math.nan if skip_reason(y_true, min_labels, "") else metric_value(metric, y_true, np.asarray(y_pred))

    value.__name__ = metric
    return value


def metric_frame(metric: str, scored: Scored, keys: np.ndarray, min_labels: int):
    """fairlearn MetricFrame of the metric per group (NaN for groups that cannot be judged). Rows and positives
    per group are counted where they are used: each metric here costs a pass of fairlearn over every group."""
    from fairlearn.metrics import MetricFrame

    return MetricFrame(metrics={metric: _guarded(metric, min_labels)}, y_true=scored.y, y_pred=scored.scores,
                       sensitive_features={"group": keys})


NO_DISPARITY = {"difference": None, "ratio": None, "worst_group": None, "best_group": None, "groups_judged": 0}


def disparity(metric: str, frame) -> dict[str, Any]:
    """Between-groups difference (best - worst, >= 0) and ratio (worst / best) of the metric over the judged groups."""
    judged = frame.by_group[metric].dropna()
    if len(judged) < 2:  # one group has no disparity to speak of
        return {**NO_DISPARITY, "groups_judged": int(len(judged))}
    worst = judged.idxmin() if HIGHER_IS_BETTER[metric] else judged.idxmax()
    best = judged.idxmax() if HIGHER_IS_BETTER[metric] else judged.idxmin()
    return {"difference": float(frame.difference(method="between_groups")[metric]),
            "ratio": float(frame.ratio(method="between_groups")[metric]), "worst_group": str(worst),
            "best_group": str(best), "groups_judged": int(len(judged))}


def _gap(metric: str, scored: Scored, group, rest) -> float:
    """The group's metric minus the rest's, oriented so that negative = the group is worse."""
    g = metric_value(metric, scored.y[group], scored.scores[group])
    r = metric_value(metric, scored.y[rest], scored.scores[rest])
    return _improvement(metric, g, r) if math.isfinite(g) and math.isfinite(r) else math.nan


def group_report(spec: FairnessSpec, today: Scored, reference: Scored | None = None) -> GroupReport:
    """Per-group quality on `today`'s rows and whether a group fell more than `spec.margin` below the rest
    with 95% confidence; the fall is the change of its gap against `reference` (the champion's holdout),
    or the gap itself without a reference."""
    import numpy as np

    report = GroupReport(spec.metric, spec.margin)
    for column in spec.groups:
        keys = group_keys(today.frame, column)
        ref_keys = group_keys(reference.frame, column) if reference is not None else None
        if not len(keys):  # no labelled rows: nothing to judge, and MetricFrame needs rows
            report.disparities.append({"column": column, **NO_DISPARITY})
            continue
        frame = metric_frame(spec.metric, today, keys, spec.min_labels_per_class)
        report.disparities.append({"column": column, **disparity(spec.metric, frame)})
        for value in sorted(set(keys)):
            inside = np.flatnonzero(keys == value)
            rest = np.flatnonzero(keys != value)
            entry = {"column": column, "group": value, "rows": int(len(inside)), "labels_1": int(today.y[inside].sum()),
                     "value": float(frame.by_group.loc[value, spec.metric]), "rest": None, "gap": None,
                     "reference_gap": None, "change": None, "change_upper_95": None, "flagged": False, "skipped": ""}
            strata = [inside, rest]
            reasons = [skip_reason(today.y[inside], spec.min_labels_per_class, "in the group"),
                       skip_reason(today.y[rest], spec.min_labels_per_class, "in the rest")]
            if reference is not None:
                strata += [np.flatnonzero(ref_keys == value), np.flatnonzero(ref_keys != value)]
                reasons += [skip_reason(reference.y[strata[2]], spec.min_labels_per_class, "in the group on the holdout"),
                            skip_reason(reference.y[strata[3]], spec.min_labels_per_class, "in the rest on the holdout")]
            entry["skipped"] = next((r for r in reasons if r), "")
            if entry["skipped"]:
                entry["value"] = None
                report.groups.append(entry)
                continue
            entry["rest"] = metric_value(spec.metric, today.y[rest], today.scores[rest])
            entry["gap"] = _gap(spec.metric, today, inside, rest)
            entry["reference_gap"] = _gap(spec.metric, reference, strata[2], strata[3]) if reference is not None else None
            entry["change"] = entry["gap"] - (entry["reference_gap"] or 0.0)
            # Only a group that seems to fall too far pays for the bootstrap (as the slice gate).
            if -entry["change"] > spec.margin:
                entry["change_upper_95"] = _change_upper_95(spec.metric, today, reference, strata)
                entry["flagged"] = math.isfinite(entry["change_upper_95"]) and -entry["change_upper_95"] > spec.margin
            report.groups.append(entry)
    return report


def _change_upper_95(metric: str, today: Scored, reference: Scored | None, strata: list) -> float:
    """`upper_bound_95` of the change of the group's gap over `strata` (group, rest[, their holdout rows]). For
    ROC-AUC, the same resamples from counts (`roc_auc_resampled`): the drift report pays this every day, and
    the generic path's rank per resample and stratum cost about a second of it."""
    import numpy as np

    if metric != "roc_auc":
        return upper_bound_95(_change_statistic(metric, today, reference), strata)
    scored = [today, today, reference, reference][:len(strata)]
    aucs = [roc_auc_resampled(sc.y[s] == 1, sc.scores[s], c) for sc, s, c in zip(scored, strata, resample_counts(strata))]
    change = aucs[0] - aucs[1] - ((aucs[2] - aucs[3]) if reference is not None else 0.0)
    finite = change[np.isfinite(change)]
    return float(np.quantile(finite, 0.95)) if len(finite) else math.nan


def _change_statistic(metric: str, today: Scored, reference: Scored | None):
    def change(group, rest, ref_group=None, ref_rest=None) -> float:
        gap = _gap(metric, today, group, rest)
        return gap if reference is None else gap - _gap(metric, reference, ref_group, ref_rest)

    return change


def disparity_gate(spec: FairnessSpec, window: pd.DataFrame, y, p_candidate, p_champion) -> list[dict[str, Any]]:
    """Per group column: the candidate's and the champion's disparity (MetricFrame between-groups difference)
    on the same window, the widening (candidate - champion) and whether it blocks: the widening exceeds
    `max_disparity_widening` with 95% confidence (paired bootstrap within each judged group)."""
    import numpy as np

    cand, champ = Scored.of(window, y, p_candidate), Scored.of(window, y, p_champion)
    out = []
    for column in spec.groups:
        keys = group_keys(cand.frame, column)
        frames = [metric_frame(spec.metric, s, keys, spec.min_labels_per_class) for s in (cand, champ)]
        figures = [disparity(spec.metric, f) for f in frames]
        judged = [g for g in frames[0].by_group[spec.metric].dropna().index]
        entry = {"column": column, "candidate_difference": figures[0]["difference"],
                 "champion_difference": figures[1]["difference"], "candidate_ratio": figures[0]["ratio"],
                 "champion_ratio": figures[1]["ratio"], "candidate_worst_group": figures[0]["worst_group"],
                 "groups_judged": len(judged), **{f"{who}_by_group": _by_group(f, spec.metric) for who, f in
                                                  (("candidate", frames[0]), ("champion", frames[1]))},
                 "widening": None, "widening_lower_95": None, "blocked": False}
        if figures[0]["difference"] is not None and figures[1]["difference"] is not None:
            entry["widening"] = figures[0]["difference"] - figures[1]["difference"]
            if entry["widening"] > spec.max_disparity_widening:
                strata = [np.flatnonzero(keys == g) for g in judged]
                upper = upper_bound_95(_narrowing_statistic(spec.metric, cand, champ, len(strata)), strata)
                entry["widening_lower_95"] = -upper if math.isfinite(upper) else None
                entry["blocked"] = math.isfinite(upper) and -upper > spec.max_disparity_widening
        out.append(entry)
    return out


def _by_group(frame, metric: str) -> dict[str, float | None]:
    return {str(g): (None if math.isnan(v) else float(v)) for g, v in frame.by_group[metric].items()}


def _narrowing_statistic(metric: str, cand: Scored, champ: Scored, groups: int):
    """champion disparity - candidate disparity on resampled groups (the candidate's 'improvement')."""

    def spread(scored: Scored, strata) -> float:
        values = [metric_value(metric, scored.y[s], scored.scores[s]) for s in strata]
        return max(values) - min(values) if all(math.isfinite(v) for v in values) else math.nan

    def narrowing(*strata) -> float:
        return spread(champ, strata) - spread(cand, strata)

    return narrowing


def champion_groups(spec: ModelSpec, day: pd.Timestamp, current: pd.DataFrame, champion: Any, reference: pd.DataFrame | None,
                    history: pd.DataFrame | None = None) -> GroupReport | None:
    """The day's group report for the champion: the labelled rows drift_report judges it on (the day, or a
    rare-label model's grown window), against the same figures on the champion's holdout. None when there is
    nothing to judge (no group columns, no champion, no labelled rows)."""
    from ops_pipelines.lib.mlops.monitoring import evaluation_rows, predict_scores
    from ops_pipelines.lib.mlops.selection import split_evaluation

    target = spec.target
    if not spec.fairness.groups or champion is None or reference is None or not len(current) or not current[target].notna().any():
        return None
    rows, _ = evaluation_rows(spec, day, current, history, champion.fitted_until)
    holdout = split_evaluation(reference, spec)[1]
    score = lambda frame: predict_scores(champion.model, frame, spec) if len(frame) else []
    return group_report(spec.fairness, Scored.of(rows, rows[target], score(rows)),
                        Scored.of(holdout, holdout[target], score(holdout)))


def gate_table(entries: list[dict[str, Any]], metric: str) -> str:
    """The promotion gate's per-group figures as one Markdown table: a row per group column and group."""
    from ops_pipelines.lib.markdown import table

    num = lambda v: "" if v is None else f"{v:.3f}"
    rows = [[e["column"], group, num(value), num(e["champion_by_group"].get(group)),
             f"{num(e['candidate_difference'])} vs {num(e['champion_difference'])}", "yes" if e["blocked"] else "no"]
            for e in entries for group, value in e["candidate_by_group"].items()]
    return table(["column", "group", f"candidate {metric}", f"champion {metric}", "disparity (candidate vs champion)",
                  "blocks"], rows, empty="no groups")
