"""Score long-format metric rows with the detector: the logic behind `metric_anomalies`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops import detector
from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState

SERIES = ["service", "metric", "host"]
_DEFAULTS = DetectorParams()


def score_metrics(
    rows: pd.DataFrame, state: DetectorState | None = None, params: DetectorParams = _DEFAULTS
) -> tuple[pd.DataFrame, DetectorState]:
    """Add `anomaly_score` and `is_anomaly` to metric rows; return them with the updated state.

    `rows` has timestamp (UTC), service, metric, host, value. Series that do not appear in
    `rows` keep their state unchanged, so a series with a gap day resumes where it stopped.
    The returned frame shares the input's columns (no copy of millions of rows): treat both
    as read-only.
    """
    state = state or DetectorState.empty([])
    if rows.empty:
        return with_scores(rows, np.empty(0)), state
    codes, names = series_codes(rows)
    t_index, times = _dense_codes(rows["timestamp"].array.asi8, step=1_000_000_000)
    today = state.aligned(names)
    # series x time: each series' points are contiguous for the compiled loop
    by_series = np.full((len(names), len(times)), np.nan)
    by_series[codes, t_index] = rows["value"].to_numpy(dtype=float)
    scores = detector.score_in_place(times, by_series, today, params)
    return with_scores(rows, scores[codes, t_index]), today.merged_into(state)


def with_scores(rows: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    """`rows` with `anomaly_score` (one per row, in row order) and `is_anomaly` (score >= 0.5) added."""
    if rows.empty:
        return rows.assign(anomaly_score=pd.Series(dtype=float), is_anomaly=pd.Series(dtype=bool))
    # a frame over the same arrays: `out[col] = ...` would copy the new columns (~0.2 s CPU at 10M rows)
    columns = {col: rows[col].array for col in rows.columns}
    out = pd.DataFrame({**columns, "anomaly_score": score, "is_anomaly": score >= 0.5}, index=rows.index, copy=False)
    out.attrs = dict(rows.attrs)  # as rows.copy() kept them
    return out


def series_codes(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per row, the index of its (service, metric, host) series, and the series names
    ("service|metric|host"), in the order of groupby(sort=True) on those columns.

    The columns' codes are combined into one mixed-radix integer key per row and numbered
    through a table: far cheaper than a groupby on millions of rows.
    """
    key, prefix, parts = None, np.empty(0, dtype=object), []  # key = prefix code, then parts' codes
    for col in SERIES:
        codes, labels = _column_codes(rows, col)
        if key is None:
            key, prefix = codes.astype(np.int64), labels
            continue
        if len(prefix) * math.prod(map(len, parts)) * len(labels) >= 2**62:  # renumber before it overflows
            key, seen = _dense_codes(key)
            prefix, parts = _decode(seen, prefix, parts), []
        key *= len(labels)
        key += codes
        parts.append(labels)
    key, seen = _dense_codes(key)
    return key, list(_decode(seen, prefix, parts))


def _column_codes(rows: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a key column in sort order (a categorical's own order) and its labels as str."""
    column = rows[col]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, values = pd.factorize(column, sort=True)
    if len(codes) and codes.min() < 0:
        raise ValueError(f"{int((codes < 0).sum())} metric rows have no {col!r}: every row needs service, metric and host")
    return codes, np.array([str(v) for v in values], dtype=object)


def _decode(keys: np.ndarray, prefix: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    """Names for mixed-radix keys: the prefix's label, then each part's, joined with "|"."""
    tails = []
    for labels in reversed(parts):
        keys, code = np.divmod(keys, len(labels))
        tails.append(labels[code])
    names = prefix[keys]
    for tail in reversed(tails):
        names = names + "|" + tail
    return names


def _dense_codes(keys: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize(keys, sort=True)` for int64 keys, through a table when the keys are multiples of
    `step` (from the smallest) spanning at most a few times their count: a few linear passes
    instead of hashing every key."""
    low, high = int(keys.min()), int(keys.max())
    span = (high - low) // step + 1  # Python ints: no overflow whatever the keys
    if span > max(4 * len(keys), 1 << 20):
        return pd.factorize(keys, sort=True)
    offsets = keys - low
    if step > 1:
        if (offsets % step).any():
            return pd.factorize(keys, sort=True)
        offsets //= step
    used = np.zeros(span, dtype=bool)
    used[offsets] = True
    rank = np.cumsum(used) - 1
    return rank[offsets], low + np.flatnonzero(used) * step
