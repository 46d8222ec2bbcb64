"""Per-service 5-minute telemetry features and the incident label for the `incident_risk` model.

A row's `timestamp` t is the moment its features become known: they summarise the step
[t - step, t). The label looks only forward from t (an incident of the service is going on at t or
starts within the horizon), so features never see the minutes they are asked to predict.
Baselines use the previous hour of steps, [t - 1 h, t - step], which for the first hour of a day
comes from the previous day: pass metrics that reach back that far; only the day's rows come out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ops_pipelines.lib.mlops.selection import affected_list, ensure_utc

FEATURE_METRICS = ("cpu_utilization", "memory_utilization", "latency_p95_ms", "error_rate", "request_rate")
DERIVED = ("cpu_change", "latency_ratio", "error_ratio")
TARGET = "incident_within_30m"
COLUMNS = ("timestamp", "service", *FEATURE_METRICS, *DERIVED, TARGET)
# A ratio over a baseline of ~0 is noise; these floors keep it finite (1 ms, 0.01% errors).
RATIO_FLOOR = {"latency_p95_ms": 1.0, "error_rate": 1e-4}
BASELINE_MIN_STEPS = 3  # fewer steps of history than this: no baseline (NaN), the pipeline imputes
DAY = pd.Timedelta(days=1)


def incident_risk_features(metrics: pd.DataFrame, incidents: pd.DataFrame | None, day_start: pd.Timestamp,
                           horizon_minutes: int = 30, step_minutes: int = 5) -> pd.DataFrame:
    """One row per service (any service seen in `metrics`) and step of the day, sorted by time then service."""
    start = ensure_utc(pd.Timestamp(day_start), "day_start")
    if step_minutes <= 0 or 60 % step_minutes:
        raise ValueError(f"step_minutes must divide an hour, got {step_minutes}")
    if horizon_minutes < 0:
        raise ValueError(f"horizon_minutes must be >= 0, got {horizon_minutes}")
    step = pd.Timedelta(minutes=step_minutes)
    if start.floor(step) != start:
        raise ValueError(f"day_start {start} is not aligned to {step_minutes}-minute steps")
    lookback = 60 // step_minutes
    n_day = int(DAY / step)
    grid = pd.date_range(start - lookback * step, periods=lookback + n_day, freq=step)  # history + the day
    services, wide = _step_means(metrics, grid, step)
    if not services:
        return _empty()
    features = {m: wide[m] for m in FEATURE_METRICS}
    previous = {m: wide[m].shift(1).rolling(lookback, min_periods=BASELINE_MIN_STEPS) for m in
                ("cpu_utilization", "latency_p95_ms", "error_rate")}
    features["cpu_change"] = wide["cpu_utilization"] - previous["cpu_utilization"].mean()
    for name, metric in (("latency_ratio", "latency_p95_ms"), ("error_ratio", "error_rate")):
        features[name] = wide[metric] / previous[metric].median().clip(lower=RATIO_FLOOR[metric])
    day = slice(lookback, None)  # drop the history rows
    n_services = len(services)
    out = {
        "timestamp": grid[day].repeat(n_services),
        "service": np.tile(np.array(services, dtype=object), n_day),
    }
    for name in (*FEATURE_METRICS, *DERIVED):
        out[name] = features[name].to_numpy(dtype=np.float64)[day].reshape(-1)
    out[TARGET] = labels(incidents, services, start, n_day, step, pd.Timedelta(minutes=horizon_minutes)).T.reshape(-1)
    return pd.DataFrame(out, columns=list(COLUMNS))


def _step_means(metrics: pd.DataFrame, grid: pd.DatetimeIndex, step: pd.Timedelta) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """Services and, per metric, a (grid time x service) frame of means over hosts and the step."""
    missing = {"timestamp", "service", "metric", "value"} - set(metrics.columns)
    if missing:
        raise ValueError(f"metrics lack columns {sorted(missing)}; found {sorted(map(str, metrics.columns))}")
    known = metrics[metrics["service"].notna() & metrics["metric"].notna()]
    services = sorted(set(known["service"].astype(str)))
    if not services:
        return [], {}
    ts = ensure_utc(known["timestamp"], "metrics.timestamp").dt.as_unit("ns")
    m = pd.DataFrame({
        "timestamp": ts,
        "service": known["service"].astype(str),
        "metric": known["metric"].astype(str),
        "host": known["host"].astype(str) if "host" in known.columns else "",
        "value": pd.to_numeric(known["value"], errors="coerce").replace([np.inf, -np.inf], np.nan),
    })
    m["step"] = m["timestamp"].dt.floor(step) + step  # the row time whose features include this sample
    m = m[m["metric"].isin(FEATURE_METRICS) & (m["step"] >= grid[0]) & (m["step"] <= grid[-1])]
    # Duplicate samples (same series and time) count once, whatever their order.
    per_sample = m.groupby(["service", "metric", "host", "timestamp", "step"], sort=False)["value"].mean()
    means = per_sample.groupby(level=["metric", "service", "step"], sort=False).mean()
    full = pd.MultiIndex.from_product([FEATURE_METRICS, services], names=["metric", "service"])
    table = means.unstack(["metric", "service"]) if len(means) else pd.DataFrame(index=pd.DatetimeIndex([]))
    table = table.reindex(index=grid, columns=full)
    return services, {metric: table[metric] for metric in FEATURE_METRICS}


def labels(incidents: pd.DataFrame | None, services: list[str], day_start: pd.Timestamp, n_steps: int,
           step: pd.Timedelta, horizon: pd.Timedelta) -> np.ndarray:
    """int8 (service x step): 1 when an incident touching the service is ongoing at t or starts in
    (t, t + horizon], i.e. t lies in [start - horizon, end]. An incident without an end is ongoing."""
    out = np.zeros((len(services), n_steps), dtype=np.int8)
    if incidents is None or incidents.empty:
        return out
    missing = {"start", "end", "affected_services"} - set(incidents.columns)
    if missing:
        raise ValueError(f"incidents lack columns {sorted(missing)}")
    begin = ensure_utc(incidents["start"], "incidents.start")
    if begin.isna().any():
        raise ValueError(f"{int(begin.isna().sum())} incidents without a start time")
    # An incident without an end is still going on; one "ending" before it starts still starts.
    finish = ensure_utc(incidents["end"], "incidents.end").fillna(day_start + DAY).clip(lower=begin)
    pairs = pd.DataFrame({"service": [affected_list(v) for v in incidents["affected_services"]],
                          "lo": begin - horizon, "hi": finish}).explode("service")
    index = {s: i for i, s in enumerate(services)}
    pairs = pairs[pairs["service"].isin(index)]
    if pairs.empty:
        return out
    step_ns, origin = step.value, day_start.value
    lo = pairs["lo"].to_numpy("datetime64[ns]").astype(np.int64) - origin
    first = np.maximum(-(-lo // step_ns), 0)  # ceil: the first step at or after lo
    hi = pairs["hi"].to_numpy("datetime64[ns]").astype(np.int64) - origin
    last = np.minimum(hi // step_ns, n_steps - 1)
    keep = first <= last
    rows = pairs["service"].map(index).to_numpy(dtype=np.int64)[keep]
    diff = np.zeros((len(services), n_steps + 1), dtype=np.int64)
    np.add.at(diff, (rows, first[keep]), 1)
    np.add.at(diff, (rows, last[keep] + 1), -1)
    out[:] = np.cumsum(diff, axis=1)[:, :n_steps] > 0
    return out


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in COLUMNS})
    frame["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["service"] = pd.Series(dtype=object)
    frame[TARGET] = pd.Series(dtype=np.int8)
    return frame
