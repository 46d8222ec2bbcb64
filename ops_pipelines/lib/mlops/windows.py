"""Evaluation windows that grow backwards in time until every class has enough labels.

A rare-label model (a few incidents a week) has days and holdouts with no or a handful of
positives: its ROC-AUC there is undefined or noise. Instead of giving up, the window is extended
backwards, one step at a time (a day for the daily monitoring, a time point for the holdout),
to the first start where each class has at least `min_labels_per_class` labels, but never
further back than `max_window_days` before its end nor before `earliest` (e.g. the first row
the model was not fitted on). Which window was used is reported with the verdict.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CLASSES = (0, 1)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class EvaluationWindow:
    """The rows `start <= time < end` a verdict was computed on, and their labels per class."""

    start: pd.Timestamp
    end: pd.Timestamp
    labels: dict[str, int] = field(default_factory=dict)  # class ("0", "1") -> labelled rows
    min_labels_per_class: int = 0
    grown: bool = False  # started earlier than the initial window
    bound: str = ""  # "", "max_window_days" or "earliest": what stopped the growth short of enough labels

    @property
    def days(self) -> float:
        return round((self.end - self.start) / DAY, 3)

    @property
    def enough(self) -> bool:
        return all(self.labels.get(str(c), 0) >= self.min_labels_per_class for c in CLASSES)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: start, end, days, labels per class, and whether the minimum was met."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days,
                "labels": dict(self.labels), "min_labels_per_class": self.min_labels_per_class,
                "enough": self.enough, "grown": self.grown, "bound": self.bound}

    def to_metadata(self, prefix: str = "window") -> dict[str, str | float | int | bool]:
        """Flat values for Dagster metadata and registry tags."""
        out: dict[str, str | float | int | bool] = {
            f"{prefix}_start": self.start.isoformat(), f"{prefix}_end": self.end.isoformat(),
            f"{prefix}_days": self.days, f"{prefix}_enough_labels": self.enough}
        out.update({f"{prefix}_labels_{c}": int(n) for c, n in self.labels.items()})
        return out

    def describe(self) -> str:
        labels = ", ".join(f"{n} of class {c}" for c, n in self.labels.items())
        text = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC ({self.days:g} days; {labels})"
        if not self.enough:
            text += (f"; fewer than {self.min_labels_per_class} labels of a class, growth stopped by "
                     f"{self.bound or 'the data'}")
        return text


def label_counts(labels: pd.Series | np.ndarray) -> dict[str, int]:
    values = pd.to_numeric(pd.Series(np.asarray(labels)), errors="coerce").dropna().astype(int)
    return {str(c): int((values == c).sum()) for c in CLASSES}


def describe_window(times: pd.Series, labels: pd.Series | None, start: pd.Timestamp, end: pd.Timestamp, *,
                    min_labels_per_class: int, grown: bool = False) -> EvaluationWindow:
    """The window `[start, end)` of rows already chosen, with their labels per class (none without labels)."""
    counts = label_counts(labels) if labels is not None else {}
    return EvaluationWindow(start, end, counts, min_labels_per_class if labels is not None else 0, grown)


def grow_window(times: pd.Series, labels: pd.Series, end: pd.Timestamp, initial_start: pd.Timestamp, *,
                min_labels_per_class: int, max_window_days: float, earliest: pd.Timestamp | None = None,
                step: pd.Timedelta | None = None) -> EvaluationWindow:
    """The latest start `<= initial_start` at which rows in `[start, end)` hold at least
    `min_labels_per_class` labels of each class, stepping back by `step` from `end` (None: to the exact
    time point), bounded by `end - max_window_days` and `earliest`; at the bound when never enough.
    Rows without a label do not count."""
    if initial_start >= end:
        raise ValueError(f"empty evaluation window: start {initial_start} is not before end {end}")
    if max_window_days <= 0 or min_labels_per_class < 0:
        raise ValueError("max_window_days must be positive and min_labels_per_class not negative")
    t = pd.Series(pd.to_datetime(times)).reset_index(drop=True)
    y = pd.to_numeric(pd.Series(np.asarray(labels)), errors="coerce").reset_index(drop=True)
    inside = (t < end) & y.notna()
    t, y = t[inside], y[inside].astype(int)
    limit, bound_name = end - pd.Timedelta(days=max_window_days), "max_window_days"
    if earliest is not None and earliest > limit:
        limit, bound_name = earliest, "earliest"
    limit = min(limit, initial_start)  # the initial window is always kept whole

    needed = initial_start  # the latest start with enough labels of every class; None: the data has too few
    for c in CLASSES:
        times_c = t[(y == c).to_numpy()].sort_values(ascending=False)
        if min_labels_per_class == 0:
            continue
        if len(times_c) < min_labels_per_class:
            needed = None
            break
        # The n-th latest label of the class: every start at or before it has n labels of it.
        needed = min(needed, times_c.iloc[min_labels_per_class - 1])
    start, bound = (limit, bound_name) if needed is None else (needed, "")
    if needed is not None and step is not None and start < initial_start:
        start = end - math.ceil((end - start) / step) * step
    if start < limit:
        start, bound = limit, bound_name
    chosen = t >= start
    window = EvaluationWindow(start=start, end=end, labels=label_counts(y[chosen.to_numpy()]),
                              min_labels_per_class=min_labels_per_class, grown=start < initial_start)
    return window if window.enough else dataclasses.replace(window, bound=bound)


def holdout_window(times: pd.Series, labels: pd.Series, initial_start: pd.Timestamp, *, min_labels_per_class: int,
                   max_window_days: float, max_rows_share: float) -> EvaluationWindow:
    """The holdout of a dataset version: from `initial_start` (the latest `holdout_share`) grown back
    to the first time point with enough labels per class, within `max_window_days` of the last row
    and never taking more than `max_rows_share` of the rows (the candidate must keep data to learn from)."""
    t = pd.Series(pd.to_datetime(times)).sort_values(kind="mergesort").reset_index(drop=True)
    end = t.iloc[-1] + pd.Timedelta(microseconds=1)  # exclusive end just after the last row
    keep = max(1, int(math.floor(len(t) * (1 - max_rows_share))))
    # The holdout may start no earlier than the first time after the `keep`-th row (rows sharing a time stay together).
    later = t[t > t.iloc[keep - 1]]
    earliest = min(later.iloc[0], initial_start) if len(later) else initial_start
    return grow_window(times, labels, end, initial_start, min_labels_per_class=min_labels_per_class,
                       max_window_days=max_window_days, earliest=earliest)
