"""Anomaly rollups per service, metric and hour (and day), and the alert-noise funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROLLUP_COLUMNS = [
    "granularity", "period_start", "service", "metric", "points", "anomalies", "max_score", "mean_score",
    "first_anomaly", "last_anomaly",
]
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_NO_TIME = np.iinfo(np.int64)  # sentinels: no anomalous point in the period


def rollup(scored: pd.DataFrame) -> pd.DataFrame:
    """Per (service, metric) and UTC hour, then day: point and anomaly counts, max/mean score,
    first and last anomalous time. Hour rows first, each granularity by period, service, metric.

    NaN scores count as points but not in the max or the sum (the mean divides by all points); a
    day's score sum is the sum of its hours' sums, skipping hours whose sum is NaN. Naive
    timestamps are taken as UTC. Rows without timestamp, service or metric raise ValueError.
    Plain numpy over integer (period, series) bins: one pass per aggregate, no sort, no hashing of
    the points when service and metric are categoricals; days are rolled up from the hour table.
    """
    if scored.empty:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    times, unit = _times(scored["timestamp"])
    pair, services, metrics = _pairs(scored)
    scores = _as(scored["anomaly_score"], np.float64, np.nan)
    flags = _as(scored["is_anomaly"], np.bool_, False)  # a missing flag is no anomaly
    hours = times // (3600 * _PER_SECOND[unit])  # floor: the hour a point falls in, also before 1970
    hourly = _hourly(hours, pair, len(services) * len(metrics), scores, flags, times)
    daily = _daily(hourly, len(services) * len(metrics))
    parts = [_frame(g, table, hours_per, services, metrics, unit)
             for g, table, hours_per in (("hour", hourly, 1), ("day", daily, 24))]
    return pd.concat(parts, ignore_index=True)


def joined_rollups(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rollups of disjoint sets of series (service shards) as one `rollup` of all their points gives them:
    the same rows (a series' figures depend on its own points only), hour rows first, each granularity by
    period, service and metric name."""
    full = [p for p in parts if len(p)]
    if not full:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    out = pd.concat(full, ignore_index=True)
    names = []
    for col in ("metric", "service"):
        codes, labels = pd.factorize(out[col])
        names.append(_rank(np.array([str(v) for v in labels], dtype=object))[codes])
    granularity = (out["granularity"] != "hour").to_numpy()
    order = np.lexsort((*names, out["period_start"].array.asi8, granularity))
    return out.take(order).reset_index(drop=True)


def _times(column: pd.Series) -> tuple[np.ndarray, str]:
    """Epoch integers of a datetime column (UTC whatever its zone; naive = UTC) and their unit."""
    if not pd.api.types.is_datetime64_any_dtype(column):
        raise TypeError(f"timestamp must be a datetime column, got {column.dtype}")
    values = column.array.asi8
    if len(values) and (missing := int((values == np.iinfo(np.int64).min).sum())):
        raise ValueError(f"{missing} scored rows have no timestamp")
    return values, column.dt.unit


def _as(column: pd.Series, dtype: type, missing: object) -> np.ndarray:
    """The column as a numpy array of dtype, missing values as `missing`; no copy when it already is one."""
    if column.dtype == dtype:
        return column.to_numpy()
    return column.to_numpy(dtype=dtype, na_value=missing)


def _pairs(scored: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, service code x number of metrics + metric code; the service and metric labels (str)."""
    codes, labels = [], []
    for col in ("service", "metric"):
        column = scored[col]
        if isinstance(column.dtype, pd.CategoricalDtype):  # no hashing: the categorical's codes
            code, values = column.cat.codes.to_numpy(), column.cat.categories
        else:
            code, values = pd.factorize(column)
        if (code < 0).any():
            raise ValueError(f"{int((code < 0).sum())} scored rows have no {col!r}")
        codes.append(code)
        labels.append(np.array([str(v) for v in values], dtype=object))
    # in place and as narrow as it fits: fresh pages of row-length arrays cost more than the arithmetic
    pair = codes[0].astype(np.int32 if len(labels[0]) * len(labels[1]) < 2**31 else np.int64)
    pair *= len(labels[1])
    pair += codes[1]
    return pair, labels[0], labels[1]


def _bins(period: np.ndarray, pair: np.ndarray, n_pairs: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """A bin number per row for its (period, pair), the number of bins, and each bin's period and pair.
    `period` is overwritten (it becomes the bin numbers).

    Bins are (period - first period) x pairs + pair, a direct table when that spans at most a few
    times the rows; otherwise (periods years apart, huge label sets) the keys are numbered by a sort.
    """
    low = int(period.min())
    span = (int(period.max()) - low + 1) * n_pairs  # Python ints: no overflow whatever the periods
    if span <= max(4 * len(period), 1 << 20):
        period -= low
        period *= n_pairs
        period += pair
        bins = np.arange(span, dtype=np.int64)
        return period, span, bins // n_pairs + low, bins % n_pairs
    period_code, periods = pd.factorize(period, sort=True)
    pair_code, pairs = pd.factorize(pair, sort=True)
    key_code, keys = pd.factorize(period_code.astype(np.int64) * len(pairs) + pair_code, sort=True)
    return key_code, len(keys), periods[keys // len(pairs)], pairs[keys % len(pairs)]


def _hourly(hours: np.ndarray, pair: np.ndarray, n_pairs: int, scores: np.ndarray, flags: np.ndarray,
            times: np.ndarray) -> dict[str, np.ndarray]:
    """The hour table: one entry per (hour, pair) with points, as arrays in (hour, pair) order."""
    group, n, bin_hour, bin_pair = _bins(hours, pair, n_pairs)
    points = np.bincount(group, minlength=n)
    nan = np.isnan(scores)
    if nan.any():  # NaN scores are points, but left out of the max and the sum
        valid = np.bincount(group[~nan], minlength=n)
        total = np.bincount(group, weights=np.where(nan, 0.0, scores), minlength=n)
    else:
        valid, total = points, np.bincount(group, weights=scores, minlength=n)
    high = np.full(n, np.nan)
    np.fmax.at(high, group, scores)  # fmax: NaN only where the hour has no score at all
    flagged, flagged_times = group[flags], times[flags]  # anomalies are few: first/last on them only
    first, last = np.full(n, _NO_TIME.max), np.full(n, _NO_TIME.min)
    np.minimum.at(first, flagged, flagged_times)
    np.maximum.at(last, flagged, flagged_times)
    keep = np.flatnonzero(points)
    return {
        "period": bin_hour[keep], "pair": bin_pair[keep], "points": points[keep],
        "anomalies": np.bincount(flagged, minlength=n)[keep], "max_score": high[keep],
        "score_sum": np.where(valid[keep] > 0, total[keep], np.nan), "first": first[keep], "last": last[keep],
    }


def _daily(hourly: dict[str, np.ndarray], n_pairs: int) -> dict[str, np.ndarray]:
    """Roll the hour table up to days (UTC)."""
    group, n, bin_day, bin_pair = _bins(hourly["period"] // 24, hourly["pair"], n_pairs)
    out = {"points": np.zeros(n, dtype=np.int64), "anomalies": np.zeros(n, dtype=np.int64),
           "max_score": np.full(n, np.nan), "score_sum": np.zeros(n),
           "first": np.full(n, _NO_TIME.max), "last": np.full(n, _NO_TIME.min)}
    np.add.at(out["points"], group, hourly["points"])
    np.add.at(out["anomalies"], group, hourly["anomalies"])
    np.fmax.at(out["max_score"], group, hourly["max_score"])
    # hours without a sum add nothing: a day of NaN scores has sum 0 (and mean 0, max NaN)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in any sum
        np.add.at(out["score_sum"], group, np.where(np.isnan(hourly["score_sum"]), 0.0, hourly["score_sum"]))
    np.minimum.at(out["first"], group, hourly["first"])
    np.maximum.at(out["last"], group, hourly["last"])
    keep = np.flatnonzero(out["points"])
    return {"period": bin_day[keep], "pair": bin_pair[keep], **{k: v[keep] for k, v in out.items()}}


def _frame(granularity: str, table: dict[str, np.ndarray], hours_per: int, services: np.ndarray,
           metrics: np.ndarray, unit: str) -> pd.DataFrame:
    """Rollup rows of one granularity (periods of `hours_per` hours), by period, service and metric name."""
    service, metric = np.divmod(table["pair"], len(metrics))
    order = np.lexsort((_rank(metrics)[metric], _rank(services)[service], table["period"]))
    anomalous = table["anomalies"][order] > 0
    return pd.DataFrame({
        "granularity": np.full(len(order), granularity, dtype=object),
        "period_start": _utc(table["period"][order] * (hours_per * 3600 * _PER_SECOND["us"])),
        "service": services[service[order]],
        "metric": metrics[metric[order]],
        "points": table["points"][order].astype(np.int64),
        "anomalies": table["anomalies"][order].astype(np.int64),
        "max_score": table["max_score"][order],
        # rounded as the DuckDB version was (its parallel sums varied in the last bits)
        "mean_score": np.round(table["score_sum"][order] / table["points"][order], 9),
        "first_anomaly": _utc(np.where(anomalous, _as_us(table["first"][order], unit), _NO_TIME.min)),
        "last_anomaly": _utc(np.where(anomalous, _as_us(table["last"][order], unit), _NO_TIME.min)),
    })


def _rank(labels: np.ndarray) -> np.ndarray:
    """Each label's position in sorted (str) order."""
    rank = np.empty(len(labels), dtype=np.int64)
    rank[np.argsort(labels, kind="stable")] = np.arange(len(labels))
    return rank


def _as_us(values: np.ndarray, unit: str) -> np.ndarray:
    """Epoch values in `unit` as whole microseconds (the output's unit; ns are floored)."""
    per, per_us = _PER_SECOND[unit], _PER_SECOND["us"]
    return values // (per // per_us) if per > per_us else values * (per_us // per)


def _utc(us: np.ndarray) -> pd.DatetimeIndex:
    """Epoch microseconds (int64 min = NaT) as UTC timestamps."""
    return pd.DatetimeIndex(us.astype(np.int64).view("datetime64[us]")).tz_localize("UTC")


def noise_funnel(anomalous_points: int, alerts: int, incidents: int) -> dict[str, float | int]:
    """Anomalous points -> alerts -> incidents, with the compression ratios people watch."""
    return {
        "anomalous_points": anomalous_points,
        "alerts": alerts,
        "incidents": incidents,
        "compression": 1.0 - incidents / anomalous_points if anomalous_points else 0.0,
        "alert_compression": 1.0 - incidents / alerts if alerts else 0.0,
    }
