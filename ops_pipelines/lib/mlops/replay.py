"""Replay a labelled stream day by day through the product's monitoring and retraining decisions.

A stream is a config entry (`assets/mlops/streams.json`): its file, how rows map to days, the
label, and a model entry in the same format as `models.json`. Each day the serving model scores
the day's rows before their labels are known (that is the accuracy reported); then the labels
arrive and a policy decides whether to retrain for the next day:

* `never`: the bootstrap model serves to the end;
* `weekly`: every `weekly_every_days` days a model trained on the last `window_days` days
  replaces the serving one (the usual cron retraining, no gate);
* `drift`: `monitoring.monitor_model` (feature drift against the champion's training data,
  performance decay on the grown evaluation window, drift events with their run keys) decides,
  one retraining per event as the sensor launches them, on the window it asks for, through
  the same row selection, holdout split and promotion gate as `retraining_job`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ops_pipelines.lib.mlops.config import ModelSpec, _spec
from ops_pipelines.settings import ASSETS_DIR

STREAMS_FILE = ASSETS_DIR / "mlops" / "streams.json"
POLICIES = ("drift", "never", "weekly")


@dataclass(frozen=True)
class StreamSpec:
    name: str
    file: str  # file name inside the folder passed on the command line
    start: str  # the first day (ISO date); rows are in time order
    rows_per_day: int
    label_column: str
    positive: str  # label value that is class 1
    tune_days: int  # the first days, where settings were chosen; judged on the rest
    weekly_every_days: int
    model: ModelSpec
    drop_columns: tuple[str, ...] = ()


def load_streams(path: Path | str = STREAMS_FILE) -> dict[str, StreamSpec]:
    out = {}
    for raw in json.loads(Path(path).read_text())["streams"]:
        out[raw["name"]] = StreamSpec(
            name=raw["name"], file=raw["file"], start=raw["start"], rows_per_day=int(raw["rows_per_day"]),
            label_column=raw["label"]["column"], positive=str(raw["label"]["positive"]),
            tune_days=int(raw["tune_days"]), weekly_every_days=int(raw.get("weekly_every_days", 7)),
            model=_spec(raw["model"]), drop_columns=tuple(raw.get("drop_columns", ())))
    return out


def load_stream(folder: Path | str, stream: StreamSpec) -> pd.DataFrame:
    """The stream's rows with a UTC time column (day = row // rows_per_day, evenly spaced within
    the day) and a 0/1 target; a clear error when the file or a column is missing."""
    path = Path(folder) / stream.file if Path(folder).is_dir() else Path(folder)
    if not path.exists():
        raise FileNotFoundError(f"stream {stream.name!r}: no file {path}")
    frame = pd.read_csv(path)
    spec = stream.model
    needed = [stream.label_column, *spec.features]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"stream {stream.name!r}: {path} lacks columns {missing}")
    if frame[stream.label_column].isna().any():
        raise ValueError(f"stream {stream.name!r}: {int(frame[stream.label_column].isna().sum())} rows without a label")
    labels = frame[stream.label_column].astype(str)
    n = np.arange(len(frame))
    step = pd.Timedelta(days=1) / stream.rows_per_day
    times = pd.Timestamp(stream.start, tz="UTC") + pd.to_timedelta(n // stream.rows_per_day, unit="D") \
        + (n % stream.rows_per_day) * step
    out = frame.drop(columns=[c for c in stream.drop_columns if c in frame.columns])
    out[spec.time_column] = times
    out[spec.target] = (labels == stream.positive).astype(int)
    for col in spec.categorical:
        out[col] = out[col].astype(str)
    return out[list(spec.dataset_columns)]


@dataclass
class _Serving:
    model: Any
    version: int
    dataset: pd.DataFrame  # the rows it was trained on (its "dataset version"): the drift reference
    as_of: str
    holdout_metric: float
    fitted_until: pd.Timestamp


@dataclass
class ReplayResult:
    policy: str
    days: list[str] = field(default_factory=list)
    correct: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    retrain_days: list[str] = field(default_factory=list)  # a candidate was trained (the cost)
    promoted_days: list[str] = field(default_factory=list)  # ... and replaced the serving model
    blocked: list[str] = field(default_factory=list)  # requested, but the window failed the row floor
    reports: list[dict[str, Any]] = field(default_factory=list)  # drift policy: monitor_model's ModelDay per day

    def summary(self, days: list[str] | None = None) -> dict[str, Any]:
        """Accuracy (correct / scored rows) and retrainings over `days` (default: all scored days)."""
        keep = set(self.days if days is None else days)
        idx = [i for i, d in enumerate(self.days) if d in keep]
        rows = sum(self.rows[i] for i in idx)
        return {"accuracy": sum(self.correct[i] for i in idx) / rows if rows else math.nan, "scored_rows": rows,
                "days": len(idx), "retrainings": sum(d in keep for d in self.retrain_days),
                "promotions": sum(d in keep for d in self.promoted_days),
                "blocked_requests": sum(d in keep for d in self.blocked)}


def _train(spec: ModelSpec, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp):
    """Select, split and fit exactly as `retraining_job` does: (rows, model, holdout, window) or None
    when the window has fewer than `training.min_rows` rows or one class (the validation gate stops it)."""
    from ops_pipelines.lib.mlops.selection import select_training_rows, split_evaluation, training_window_start
    from ops_pipelines.lib.mlops.training import fit_pipeline

    start = training_window_start(frame[frame[spec.time_column] < end], spec, start, end, None)
    rows = select_training_rows(frame, spec, start, end, None).rows
    if len(rows) < spec.training.min_rows or rows[spec.target].nunique() < 2:
        return None
    train, holdout, window = split_evaluation(rows, spec)
    if train[spec.target].nunique() < 2:
        return None
    return rows, fit_pipeline(spec, train), holdout, window


def _accuracy_metric(spec: ModelSpec, model: Any, holdout: pd.DataFrame) -> float:
    from ops_pipelines.lib.mlops.training import holdout_metrics

    return holdout_metrics(model, holdout, spec)[f"holdout_{spec.drift.performance_metric}"]


def replay(frame: pd.DataFrame, stream: StreamSpec, policy: str) -> ReplayResult:
    """Run one policy over the whole stream; every policy starts from the same bootstrap model."""
    return replay_model(frame, stream.model, policy, stream.weekly_every_days)


def replay_model(frame: pd.DataFrame, spec: ModelSpec, policy: str, weekly_every_days: int = 7) -> ReplayResult:
    """`replay` for any model entry and its source rows (`spec.dataset_columns`, days in UTC)."""
    from ops_pipelines.lib.mlops.evaluation import compare
    from ops_pipelines.lib.mlops.monitoring import Champion, monitor_model

    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; one of {POLICIES}")
    t = spec.time_column
    day_of = frame[t].dt.floor("D")
    days = sorted(day_of.unique())
    by_day = {d: frame[(day_of == d).to_numpy()] for d in days}
    result, serving, previous, seen_keys = ReplayResult(policy), None, None, set()
    window = pd.Timedelta(days=spec.training.window_days)
    for i, day in enumerate(days):
        end = day + pd.Timedelta(days=1)
        current = by_day[day]
        iso = day.strftime("%Y-%m-%d")
        if serving is not None:
            predicted = serving.model.predict_proba(current[list(spec.features)])[:, 1] >= 0.5
            result.days.append(iso)
            result.correct.append(int((predicted.astype(int) == current[spec.target].to_numpy()).sum()))
            result.rows.append(len(current))
        if serving is None:
            if i + 1 < spec.training.window_days:
                continue
            trained = _train(spec, frame, end - window, end)
            if trained is not None:
                rows, model, holdout, _ = trained
                serving = _Serving(model, 1, rows, iso, _accuracy_metric(spec, model, holdout), holdout[t].min())
                bootstrap_day = i
            continue
        if policy == "weekly" and (i - bootstrap_day) % weekly_every_days == 0:
            trained = _train(spec, frame, end - window, end)
            result.retrain_days.append(iso)
            if trained is None:
                result.blocked.append(iso)
                continue
            rows, model, holdout, _ = trained
            serving = _Serving(model, serving.version + 1, rows, iso, _accuracy_metric(spec, model, holdout),
                               holdout[t].min())
            result.promoted_days.append(iso)
        elif policy == "drift":
            champion = Champion(serving.version, f"v{serving.version}", serving.model, serving.holdout_metric,
                                serving.fitted_until)
            history_start = end - pd.Timedelta(days=math.ceil(spec.evaluation.max_window_days or 1))
            history = frame[(frame[t] >= history_start) & (frame[t] < day)]
            report, _ = monitor_model(spec, day, current, champion, serving.dataset, previous, i + 1, [],
                                      champion_trained_through=serving.as_of, history=history)
            previous = report.to_dict()
            result.reports.append(previous)
            if not report.retrain_key or report.retrain_key in seen_keys:
                continue
            seen_keys.add(report.retrain_key)  # the sensor's run key: one retraining per event
            trained = _train(spec, frame, pd.Timestamp(report.window_start, tz="UTC"), end)
            result.retrain_days.append(iso)
            if trained is None:
                result.blocked.append(iso)
                continue
            rows, model, holdout, window_info = trained
            evaluation = compare(spec, model, serving.model, holdout, champion_version=serving.version,
                                 window_info=window_info)
            if evaluation.passed:
                serving = _Serving(model, serving.version + 1, rows, iso, _accuracy_metric(spec, model, holdout),
                                   holdout[t].min())
                result.promoted_days.append(iso)
    return result
