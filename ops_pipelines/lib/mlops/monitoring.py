"""Daily model monitoring: drift of the day against the champion's training data, the champion's
performance on the day's labels, and the retraining decision (with a run key per drift event).

A drift event starts on the first flagged day after an unflagged one (for the same champion) and
lasts while the days stay flagged; the run key names the model, the champion version and the
event's first day, so a sensor launches one retraining per event however often it looks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from ops_pipelines.lib.mlops.config import ModelSpec


@dataclass(frozen=True)
class Champion:
    version: int
    dataset_version: str
    model: Any  # fitted sklearn pipeline
    holdout_metric: float  # its promotion metric on its own holdout at training time
    fitted_until: pd.Timestamp | None = None  # first time after the rows it was fitted on (its holdout's start)


@dataclass
class ModelDay:
    """What the drift report says about one model on one day."""

    model: str
    day: str
    rows: int
    champion_version: int | None = None
    dataset_version: str | None = None
    champion_trained_through: str | None = None  # the as-of day of the champion's training data
    champion_after_day: bool = False  # trained on this day or later: a re-run, compared against the future
    dataset_drift: bool = False
    drift_share: float = math.nan
    drifted_columns: list[str] = field(default_factory=list)
    prediction_drift: bool | None = None
    label_drift: bool | None = None
    performance: float | None = None  # champion metric on the evaluation window's labeled rows
    evaluation_window: dict[str, Any] | None = None  # start, end, days, labels per class (windows.EvaluationWindow)
    baseline_performance: float | None = None
    performance_decay: bool = False
    streak_start: str | None = None
    retrain_reason: str = ""  # "", "bootstrap", "drift", "performance_decay"
    retrain_key: str = ""
    window_start: str | None = None  # first day a retraining for this event should use
    incidents: list[str] = field(default_factory=list)  # incidents overlapping the day
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# A day's metric on fewer labels of either class is noise, not a signal to retrain on.
MIN_CLASS_ROWS = 30


def metric_value(metric: str, y_true: pd.Series, score: pd.Series, min_labels: int = MIN_CLASS_ROWS) -> float | None:
    """The named metric (the promotion gate's own), or None when the window cannot define it reliably
    (empty, one class, or fewer than `min_labels` rows of a class)."""
    from ops_pipelines.lib.mlops.evaluation import metric_value as gate_metric

    counts = y_true.value_counts()
    if len(counts) < 2 or int(counts.min()) < min_labels:
        return None
    return gate_metric(metric, y_true.to_numpy(), score.to_numpy())


def predict_scores(model: Any, frame: pd.DataFrame, spec: ModelSpec) -> pd.Series:
    from ops_pipelines.lib.mlops.training import model_inputs

    return pd.Series(model.predict_proba(model_inputs(model, frame, spec))[:, 1], index=frame.index, name="prediction")


def decide(spec: ModelSpec, day: pd.Timestamp, result: ModelDay, previous: dict[str, Any] | None,
           days_available: int) -> ModelDay:
    """Fill in the retraining decision from the day's verdicts and yesterday's record."""
    iso = day.strftime("%Y-%m-%d")
    if result.champion_after_day:
        # A re-run of an earlier day: the champion saw this day's data (or later), so its drift and performance
        # are not what the day looked like at the time; retraining as of this day would replace a newer model.
        result.note = (f"re-run: compared against champion v{result.champion_version}, trained on data through "
                       f"{result.champion_trained_through} (not before this day); no retraining requested")
        return result
    if result.champion_version is None:
        if days_available >= spec.training.window_days:
            result.retrain_reason = "bootstrap"
            result.window_start = (day - pd.Timedelta(days=spec.training.window_days - 1)).strftime("%Y-%m-%d")
            result.retrain_key = f"{spec.name}:bootstrap:{iso}"
        else:
            result.note = f"no champion yet: {days_available} of {spec.training.window_days} days of data"
        return result
    if not (result.dataset_drift or result.performance_decay):
        return result
    same_event = (previous is not None and previous.get("champion_version") == result.champion_version
                  and bool(previous.get("retrain_reason")) and previous.get("streak_start"))
    retry = spec.drift.retry_after_days
    if same_event and retry and (day.date() - pd.Timestamp(str(previous["streak_start"])).date()).days >= retry:
        same_event = False  # still drifting under the same champion `retry` days on: its retraining did not help
    result.streak_start = str(previous["streak_start"]) if same_event else iso
    result.retrain_reason = "drift" if result.dataset_drift else "performance_decay"
    # After a shift the old data describes a world that is gone: retrain on data since the event began
    # (at least `min_drift_window_days` days, for streams with few rows a day).
    floor = (day - pd.Timedelta(days=spec.training.min_drift_window_days - 1)).strftime("%Y-%m-%d")
    result.window_start = min(result.streak_start, floor)
    result.retrain_key = f"{spec.name}:v{result.champion_version}:{result.streak_start}"
    return result


def performance_decay(spec: ModelSpec, performance: float | None, baseline: float | None) -> bool:
    if performance is None or baseline is None or not math.isfinite(baseline):
        return False
    higher_is_better = spec.drift.performance_metric != "log_loss"
    drop = (baseline - performance) if higher_is_better else (performance - baseline)
    return drop > spec.drift.max_performance_drop


def fitted_until(reference: pd.DataFrame, spec: ModelSpec) -> pd.Timestamp:
    """The start of a dataset version's holdout: rows from there on were not fitted by the model trained on it."""
    from ops_pipelines.lib.mlops.selection import split_evaluation

    return split_evaluation(reference, spec)[2].start


def evaluation_rows(spec: ModelSpec, day: pd.Timestamp, current: pd.DataFrame, history: pd.DataFrame | None,
                    earliest: pd.Timestamp | None):
    """The labeled rows the champion is judged on for `day`: the day, grown back by whole days (through
    `history`, the source's earlier days) until each class has `evaluation.min_labels_per_class` labels,
    at most `evaluation.max_window_days` days and never before `earliest`. Returns (rows, EvaluationWindow)."""
    from ops_pipelines.lib.mlops.windows import DAY, grow_window

    start = (day.tz_localize("UTC") if day.tz is None else day.tz_convert("UTC")).normalize()
    end, ev, t = start + DAY, spec.evaluation, spec.time_column
    frames = [f for f in (history, current) if f is not None and len(f)]
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else current)
    rows = rows[rows[spec.target].notna()] if len(rows) else rows
    window = grow_window(rows[t], rows[spec.target], end, start, min_labels_per_class=ev.min_labels_per_class,
                         max_window_days=ev.max_window_days or 1, step=DAY,
                         earliest=None if earliest is None else min(earliest, start))
    chosen = rows[(rows[t] >= window.start) & (rows[t] < end)]
    return chosen, window


def load_champion(client: Any, spec: ModelSpec) -> Champion | None:
    """The model version behind the `champion` alias, with its dataset version and holdout metric."""
    from ops_pipelines.lib.mlops.registry import (
        champion_version,
        dataset_version_of,
        load_version,
    )

    found = champion_version(client, spec.registered_name)
    if found is None:
        return None
    version = int(found.version)
    metrics = client.get_run(found.run_id).data.metrics
    return Champion(
        version=version,
        dataset_version=dataset_version_of(client, spec.registered_name, version),
        model=load_version(client, spec.registered_name, version),
        holdout_metric=float(metrics.get(f"holdout_{spec.drift.performance_metric}", math.nan)),
    )


def monitor_model(spec: ModelSpec, day: pd.Timestamp, current: pd.DataFrame, champion: Champion | None,
                  reference: pd.DataFrame | None, previous: dict[str, Any] | None, days_available: int,
                  incidents: list[str], champion_trained_through: str | None = None,
                  history: pd.DataFrame | None = None) -> tuple[ModelDay, Any]:
    """One model's day: feature, prediction and label drift against the champion's training data,
    champion performance on the evaluation window's labels, and the retraining decision. Returns
    (ModelDay, DriftResult|None). `champion_trained_through`: the last day of the champion's training
    data (its dataset's as-of day); `history`: earlier days of the source, for a rare-label model's
    evaluation window to grow into (never before `champion.fitted_until`)."""
    from ops_pipelines.lib.mlops.drift import compute_drift, label_drift

    result = ModelDay(model=spec.name, day=day.strftime("%Y-%m-%d"), rows=len(current), incidents=incidents)
    drift = None
    if champion is not None and reference is not None and len(current):
        result.champion_version, result.dataset_version = champion.version, champion.dataset_version
        result.champion_trained_through = champion_trained_through
        result.champion_after_day = champion_trained_through is not None and champion_trained_through >= result.day
        categorical = [c for c in spec.drift_columns if c in spec.categorical]
        drift = compute_drift(reference, current, list(spec.drift_columns), categorical=categorical,
                              drift_share=spec.drift.drift_share)
        result.dataset_drift, result.drift_share = drift.dataset_drift, drift.drift_share
        result.drifted_columns = [name for name, col in drift.columns.items() if col.drifted]
        ref_pred, cur_pred = predict_scores(champion.model, reference, spec), predict_scores(champion.model, current, spec)
        result.prediction_drift = compute_drift(ref_pred.to_frame(), cur_pred.to_frame(), ["prediction"]).dataset_drift
        target = spec.target
        if current[target].notna().any():
            result.label_drift = label_drift(reference[target], current[target]).drifted
            rows, window = evaluation_rows(spec, day, current, history, champion.fitted_until)
            # The day alone (no history): its rows keep their index, so the day's scores serve.
            scores = (cur_pred.loc[rows.index] if history is None
                      else predict_scores(champion.model, rows, spec) if len(rows) else pd.Series(dtype=float))
            result.performance = metric_value(spec.drift.performance_metric, rows[target], scores,
                                              spec.evaluation.min_labels_per_class)
            result.evaluation_window = window.to_dict()
        result.baseline_performance = champion.holdout_metric
        result.performance_decay = performance_decay(spec, result.performance, champion.holdout_metric)
    elif not len(current):
        result.note = f"no rows of {spec.source} for the day"
    return decide(spec, day, result, previous, days_available), drift


def health_sections(drift: pd.DataFrame, evaluations: pd.DataFrame) -> list[dict[str, Any]]:
    """One health-report section per model: the day's drift verdict and champion performance, the
    retraining it asked for, and the latest retraining decision recorded (as of the day)."""
    import json

    sections = []
    for row in drift.to_dict("records"):
        mine = evaluations[evaluations["model"] == row["model"]].sort_values("as_of") if len(evaluations) else evaluations
        last = mine.iloc[-1].to_dict() if len(mine) else None
        if pd.isna(row.get("champion_version")):
            verdict = "no champion yet"
        else:
            verdict = "drift" if row["dataset_drift"] else "no drift"
        decision = (f"v{int(last['candidate_version'])} {last['decision']} (as of {last['as_of']})" if last else "none yet")
        requested = f"requested: {row['retrain_reason']}" if row.get("retrain_reason") else "none requested"
        sections.append({
            "model": row["model"], "drift_verdict": verdict,
            "drifted_share": None if pd.isna(row["drift_share"]) else float(row["drift_share"]),
            "top_drifted_columns": ", ".join(json.loads(row.get("drifted_columns") or "[]")[:5]),
            "retraining_decision": decision,
            "retraining_reason": f"{requested}; {last['reason']}" if last else requested,
            "champion_version": None if verdict == "no champion yet" else int(row["champion_version"]),
            "champion_metric": "roc_auc", "champion_value": row.get("performance"),
            "champion_window": window_text(row.get("evaluation_window")),
            **groups_summary(row.get("groups")),
        })
    return sections


def window_text(value: Any) -> str:
    """'<start> to <end> (<days> days; <n> of class 0, <n> of class 1)' from a drift row's evaluation_window."""
    import json

    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return ""
    window = json.loads(value) if isinstance(value, str) else dict(value)
    if not window:
        return ""
    labels = ", ".join(f"{n} of class {c}" for c, n in window.get("labels", {}).items())
    short = "" if window.get("enough", True) else f"; under {window.get('min_labels_per_class')} of a class"
    return f"{window['start'][:16]} to {window['end'][:16]} ({window['days']:g} days; {labels}{short})"


def groups_summary(value: Any) -> dict[str, Any]:
    """Bias across groups from a drift row's `groups` JSON (fairness.GroupReport.to_dict()): the disparity per
    group column ('user_segment 0.041 (worst new_user)') and the flagged groups; {} without a report."""
    import json

    if not isinstance(value, str) or not value:
        return {}
    report = json.loads(value)
    disparity = "; ".join(f"{d['column']} {d['difference']:.3f} (worst {d['worst_group']})"
                          for d in report["disparities"] if d["difference"] is not None)
    flagged = ", ".join(f"{g['column']}={g['group']} ({g['gap']:+.3f} vs the rest, was {g['reference_gap']:+.3f})"
                        if g.get("reference_gap") is not None else f"{g['column']}={g['group']} ({g['gap']:+.3f} vs the rest)"
                        for g in report["groups"] if g["flagged"])
    return {"group_metric": report["metric"], "group_disparity": disparity or "n/a", "groups_flagged": flagged or "none"}
