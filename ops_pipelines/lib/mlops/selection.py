"""Which rows a (re)training uses: the time window, minus unusable rows and incident windows.

Every removed row is counted under exactly one reason (the first that applies, in the order of
`REASONS`), so `rows in = kept + sum(excluded)` always holds and the counts go into lineage.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ops_pipelines.lib.mlops.config import ModelSpec

REASONS = ("missing_timestamp", "outside_window", "duplicate_row", "missing_target", "incident_window")


def ensure_utc(values: pd.Series | pd.Timestamp, what: str) -> Any:
    """Timestamps as tz-aware UTC. Aware times in another zone are converted; naive times are a
    TypeError, because guessing their zone would silently shift rows across window and incident edges."""
    if isinstance(values, pd.Timestamp):
        if values.tz is None:
            raise TypeError(f"{what} is timezone-naive ({values}); pass a UTC (or tz-aware) timestamp")
        return values.tz_convert("UTC")
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        kind = "timezone-naive datetimes" if pd.api.types.is_datetime64_dtype(values) else f"dtype {values.dtype}"
        raise TypeError(f"{what} must be tz-aware datetimes (UTC); found {kind}")
    return values.dt.tz_convert("UTC")


@dataclass(frozen=True)
class Selection:
    rows: pd.DataFrame  # time column, features, target; sorted so the content hash is stable
    excluded: dict[str, int]  # reason -> rows removed (only reasons that removed something)
    incident_ids: list[str]  # incidents whose padded window removed at least one row
    rows_in: int = 0
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    incident_exclusion: dict[str, Any] = field(default_factory=dict)

    def to_lineage(self) -> dict[str, Any]:
        """JSON-able summary for the dataset manifest."""
        start, end = self.window or (None, None)
        return {
            "rows_in": int(self.rows_in),
            "rows": len(self.rows),
            "excluded": {k: int(v) for k, v in self.excluded.items()},
            "incident_ids": list(self.incident_ids),
            "window_start": start.isoformat() if start is not None else None,
            "window_end": end.isoformat() if end is not None else None,
            "columns": [str(c) for c in self.rows.columns],
            "incident_exclusion": self.incident_exclusion,
        }


def select_training_rows(
    frame: pd.DataFrame,
    spec: ModelSpec,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    incidents: pd.DataFrame | None,
) -> Selection:
    """Rows with `window_start <= time < window_end`, a target, not an exact duplicate and (when the
    spec says so) outside every padded incident window; only the time, key, feature and target columns."""
    start, end = ensure_utc(window_start, "window_start"), ensure_utc(window_end, "window_end")
    if end <= start:
        raise ValueError(f"empty training window: window_end {end} is not after window_start {start}")
    columns = list(spec.dataset_columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"model {spec.name!r}: input lacks columns {missing}; found {sorted(map(str, frame.columns))}")
    frame = frame.reset_index(drop=True)
    times = ensure_utc(frame[spec.time_column], f"column {spec.time_column!r}")

    reason = pd.Series(pd.NA, index=frame.index, dtype="string")
    _mark(reason, times.isna(), "missing_timestamp")
    _mark(reason, (times < start) | (times >= end), "outside_window")
    _mark(reason, _duplicated(frame), "duplicate_row")
    _mark(reason, frame[spec.target].isna(), "missing_target")
    exclusion, incident_ids = _incident_exclusion(spec, incidents, times, reason, start, end)

    kept = frame.loc[reason.isna(), columns].copy()
    kept[spec.time_column] = times[reason.isna()]
    rows = _canonical(kept, spec)
    excluded = {r: int(n) for r, n in reason.value_counts().items() if n}
    return Selection(rows, {r: excluded[r] for r in REASONS if r in excluded}, incident_ids, len(frame),
                     (start, end), exclusion)


def _mark(reason: pd.Series, mask: pd.Series | np.ndarray, name: str) -> None:
    """Give rows their first reason: a row already removed keeps the reason it has."""
    reason[np.asarray(mask, dtype=bool) & reason.isna().to_numpy()] = name


def _incident_exclusion(spec: ModelSpec, incidents: pd.DataFrame | None, times: pd.Series, reason: pd.Series,
                        start: pd.Timestamp, end: pd.Timestamp) -> tuple[dict[str, Any], list[str]]:
    rule = spec.exclude_incidents
    if rule is None:
        return {"enabled": False}, []
    info: dict[str, Any] = {"enabled": True, "services": list(rule.services) if rule.services else "*",
                            "padding_minutes": rule.padding_minutes, "incidents_provided": incidents is not None}
    if incidents is None or incidents.empty:
        info["incidents_considered"] = 0
        return info, []
    windows = incident_windows(incidents, rule.services, pd.Timedelta(minutes=rule.padding_minutes), end)
    info["incidents_considered"] = len(windows)
    candidate = reason.isna().to_numpy()
    t = _ns(times)
    order = np.argsort(t[candidate], kind="stable")
    cand_idx = np.flatnonzero(candidate)[order]
    cand_t = t[cand_idx]
    hit = np.zeros(len(t), dtype=bool)
    ids = []
    for inc_id, lo, hi in windows.itertuples(index=False):  # one step per incident, vectorised over rows
        a, b = np.searchsorted(cand_t, lo.value, "left"), np.searchsorted(cand_t, hi.value, "right")
        if b > a:
            hit[cand_idx[a:b]] = True
            ids.append(str(inc_id))
    _mark(reason, hit, "incident_window")
    return info, sorted(set(ids))


def _ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds as int64 (NaT becomes the minimum int64; callers skip those rows)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]").to_numpy().view("i8")


def _duplicated(frame: pd.DataFrame) -> pd.Series:
    """Exact copies of an earlier row (all columns); list-valued columns are compared as text."""
    try:
        return frame.duplicated(keep="first")
    except TypeError:
        return frame.astype(str).duplicated(keep="first")


def incident_windows(incidents: pd.DataFrame, services: tuple[str, ...] | None, padding: pd.Timedelta,
                     open_end: pd.Timestamp) -> pd.DataFrame:
    """incident_id, lo, hi of the incidents that count (any, or those touching `services`), padded on
    both sides. An incident without an end is still going on: it reaches `open_end`."""
    missing = {"incident_id", "start", "end"} - set(incidents.columns)
    if missing:
        raise ValueError(f"incidents lack columns {sorted(missing)}")
    begin = ensure_utc(incidents["start"], "incidents.start")
    if begin.isna().any():
        bad = incidents.loc[begin.isna(), "incident_id"].astype(str).tolist()
        raise ValueError(f"incidents without a start time: {bad[:5]}")
    finish = ensure_utc(incidents["end"], "incidents.end")
    finish = finish.fillna(pd.Series(np.maximum(open_end, begin), index=begin.index))
    keep = np.ones(len(incidents), dtype=bool)
    if services is not None:
        if "affected_services" not in incidents.columns:
            raise ValueError("incidents lack column 'affected_services', needed to filter by service")
        wanted = set(services)
        keep = np.array([bool(wanted & set(affected_list(v))) for v in incidents["affected_services"]], dtype=bool)
    out = pd.DataFrame({"incident_id": incidents["incident_id"].astype(str), "lo": begin - padding, "hi": finish + padding})
    return out[keep].reset_index(drop=True)


def affected_list(value: Any) -> list[str]:
    """`affected_services` as a list: a list in memory, a numpy array after Parquet, maybe a JSON or
    comma-separated string from a user's export; missing -> []."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v) for v in json.loads(text)]
        return [s.strip() for s in text.split(",") if s.strip()]
    return [str(v) for v in value]


def _canonical(rows: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Same set of rows -> same frame (and content hash) whatever the input order or dtypes of
    categories: plain strings, an integer 0/1 target, sorted by time then by every other column."""
    for col in spec.categorical:
        if isinstance(rows[col].dtype, pd.CategoricalDtype):
            rows[col] = rows[col].astype(object).where(rows[col].notna(), None)
    target = rows[spec.target]
    # Cast only when lossless; anything else stays as it is so validation can name it.
    if pd.api.types.is_numeric_dtype(target) and target.isin([0, 1]).all():
        rows[spec.target] = target.astype(np.int8)
    by = list(dict.fromkeys([spec.time_column, *rows.columns]))
    return rows.sort_values(by, kind="mergesort", na_position="last").reset_index(drop=True)


def split_holdout(rows: pd.DataFrame, spec: ModelSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training, holdout) as `split_evaluation` makes them."""
    train, hold, _ = split_evaluation(rows, spec)
    return train, hold


def split_evaluation(rows: pd.DataFrame, spec: ModelSpec):
    """(training, holdout, EvaluationWindow): the latest `holdout_share` of rows by time is held out,
    grown back to the first time point where each class has `evaluation.min_labels_per_class` labels
    (within `evaluation.max_window_days`, never more than `evaluation.max_holdout_share` of the rows).
    Rows sharing the boundary time all go to the holdout, so every holdout row is strictly later than
    every training row."""
    from ops_pipelines.lib.mlops.windows import describe_window, holdout_window

    share = spec.training.holdout_share
    if not 0.0 < share < 1.0:
        raise ValueError(f"model {spec.name!r}: holdout_share must be in (0, 1), got {share}")
    if rows.empty:
        raise ValueError(f"model {spec.name!r}: no rows to split")
    times = rows[spec.time_column]
    if times.isna().any():
        raise ValueError(f"model {spec.name!r}: {int(times.isna().sum())} rows without {spec.time_column!r}")
    ordered = rows.sort_values(spec.time_column, kind="mergesort")
    n_hold = max(1, int(np.ceil(round(share * len(ordered), 9))))  # round: 0.3 * 10 is 3.0000000000000004
    boundary = ordered[spec.time_column].iloc[len(ordered) - n_hold]
    ev, labelled = spec.evaluation, spec.target in ordered.columns
    bound = ""
    if labelled and ev.max_window_days is not None:
        grown = holdout_window(ordered[spec.time_column], ordered[spec.target], boundary,
                               min_labels_per_class=ev.min_labels_per_class, max_window_days=ev.max_window_days,
                               max_rows_share=max(ev.max_holdout_share, share))
        boundary, bound = grown.start, grown.bound
    is_hold = (ordered[spec.time_column] >= boundary).to_numpy()
    train, hold = ordered[~is_hold], ordered[is_hold]
    if train.empty:
        raise ValueError(f"model {spec.name!r}: every row is at or after the holdout boundary {boundary}; "
                         "need rows at more than one time")
    window = describe_window(hold[spec.time_column], hold[spec.target] if labelled else None, boundary,
                             ordered[spec.time_column].iloc[-1] + pd.Timedelta(microseconds=1),
                             min_labels_per_class=ev.min_labels_per_class, grown=len(hold) > n_hold)
    window = window if window.enough else dataclasses.replace(window, bound=bound or "the dataset")
    return train.reset_index(drop=True), hold.reset_index(drop=True), window


def training_window_start(frame: pd.DataFrame, spec: ModelSpec, start: pd.Timestamp, end: pd.Timestamp,
                          incidents: pd.DataFrame | None) -> pd.Timestamp:
    """For a rare-label model (`evaluation.max_window_days` set): `start`, moved back a whole day at a
    time (at most max_window_days) until the part of the window left for training after the holdout
    split holds `evaluation.min_labels_per_class` labels of each class; `start` when no such day is
    found (the fit then fails naming the single class). A retraining requested on the day an incident
    began would otherwise find its few positives all in the holdout and nothing to learn from."""
    ev = spec.evaluation
    if ev.max_window_days is None:
        return start
    for back in range(int(np.ceil(ev.max_window_days)) + 1):
        candidate = start - pd.Timedelta(days=back)
        rows = select_training_rows(frame, spec, candidate, end, incidents).rows
        if rows.empty or rows[spec.time_column].nunique() < 2:
            continue
        train, _, _ = split_evaluation(rows, spec)
        counts = train[spec.target].value_counts()
        if all(int(counts.get(c, 0)) >= ev.min_labels_per_class for c in (0, 1)):
            return candidate
    return start
