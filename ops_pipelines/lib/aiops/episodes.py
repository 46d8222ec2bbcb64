"""Episodes: one series' run of anomalous points, described by what it means rather than its score.

Correlation should rest on properties that hold whatever detector produced the points, so every
episode gets, from its signal name and the raw values around it:
- `signal_class`: errors, latency, saturation, traffic, cost, warnings (WARN log templates),
  log_volume (INFO/DEBUG templates) or other;
- `direction` and `ratio`: the episode's median value against the median of the hour before it
  (`up`, `down` or `flat` when the values did not move beyond the pre-episode spread: a detector
  artefact, e.g. a daily profile that learned yesterday's outage or has not learned the day yet);
- `harmful`: a move in the bad direction (errors, latency, saturation, cost or warnings up,
  traffic down); latency down or traffic up never opens an incident on its own.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

EPISODE_COLUMNS = ["service", "signal", "host", "start", "end", "points", "peak", "level", "text"]
_CLASSES = (  # first match wins; names are matched lower-cased
    ("errors", re.compile(r"error|fail|5xx|timeout|exception|reject|fault")),
    ("cost", re.compile(r"cost|spend|price|tokens")),
    ("latency", re.compile(r"latency|duration|response_time|_ms$|p50|p9\d|wait|delay")),
    ("saturation", re.compile(r"cpu|mem|heap|disk|iops|io_|util|saturation|load|connection|conn_|pool|queue|lag|gc|thread|swap")),
    ("traffic", re.compile(r"request|rps|qps|throughput|traffic|calls|hits|sessions|rate$|count$|per_s")),
)
HARMFUL_UP = ("errors", "latency", "saturation", "cost", "warnings")
SEVERE_LEVELS = ("ERROR", "CRITICAL", "FATAL", "ALERT", "EMERG")


def episodes(events: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """Runs of anomalous points per (service, signal, host): start, end, points, peak score
    (plus the log level and template text of log events, "" for metrics)."""
    if events.empty:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    ev = events.sort_values(["service", "signal", "host", "timestamp"], kind="stable").reset_index(drop=True)
    for col in ("level", "text"):
        if col not in ev:
            ev[col] = ""
    series = ev[["service", "signal", "host"]].astype(str).agg("|".join, axis=1)
    new = (series != series.shift()) | (ev["timestamp"].diff() > gap)
    ev["episode"] = new.cumsum()
    grouped = ev.groupby("episode", sort=True)
    out = grouped.agg(service=("service", "first"), signal=("signal", "first"), host=("host", "first"),
                      start=("timestamp", "min"), end=("timestamp", "max"), points=("score", "size"),
                      peak=("score", "max"), level=("level", "first"), text=("text", "first"))
    out[["level", "text"]] = out[["level", "text"]].fillna("").astype(str)
    return out.sort_values(["start", "service", "signal", "host"], kind="stable").reset_index(drop=True)


def signal_class(signal: str, level: str = "") -> str:
    """What a signal measures, from its name (metrics) or level (log templates, `logs:<id>`)."""
    if signal.startswith("logs:"):
        level = level.upper()
        return "errors" if level in SEVERE_LEVELS else "warnings" if level.startswith("WARN") else "log_volume"
    name = signal.lower()
    for cls, pattern in _CLASSES:
        if pattern.search(name):
            return cls
    return "other"


class SeriesValues:
    """Raw metric values per (service, metric, host), to measure how an episode moved the series."""

    def __init__(self, metrics: pd.DataFrame | None) -> None:
        self._index: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        if metrics is None or metrics.empty:
            return
        frame = pd.DataFrame({
            "t": metrics["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            "service": metrics["service"].astype(str).to_numpy(), "metric": metrics["metric"].astype(str).to_numpy(),
            "host": metrics["host"].astype(str).to_numpy() if "host" in metrics else "",
            "v": pd.to_numeric(metrics["value"], errors="coerce").to_numpy(dtype=float),
        })
        frame = frame[np.isfinite(frame["v"].to_numpy())].sort_values(["service", "metric", "host", "t"], kind="stable")
        for key, part in frame.groupby(["service", "metric", "host"], sort=False):
            self._index[key] = (part["t"].to_numpy(), part["v"].to_numpy())

    def keys(self) -> list[tuple[str, str, str]]:
        return list(self._index)

    def ratio(self, service: str, metric: str, host: str, split: pd.Timestamp, end: pd.Timestamp,
              before: pd.Timedelta = pd.Timedelta(hours=1)) -> float:
        """Median of [split, end] over the median of the hour before `split` (NaN without data)."""
        series = self._index.get((service, metric, host))
        if series is None:
            return float("nan")
        t, v = series
        lo, mid = np.searchsorted(t, [(split - before).value, split.value], side="left")
        hi = np.searchsorted(t, end.value, side="right")
        if mid - lo < 5 or hi <= mid:
            return float("nan")
        base = float(np.median(v[lo:mid]))
        return float(np.median(v[mid:hi])) / base if base > 0 else float("nan")

    def first_seen(self) -> dict[tuple[str, str, str], int]:
        """Epoch ns of each series' first point in these values."""
        return {k: int(t[0]) for k, (t, _) in self._index.items() if len(t)}

    def move(self, service: str, metric: str, host: str, start: pd.Timestamp, end: pd.Timestamp,
             before: pd.Timedelta = pd.Timedelta(hours=1), z: float = 2.5) -> tuple[str, float]:
        """(direction, ratio) of the episode's median value against the hour before it."""
        series = self._index.get((service, metric, host))
        if series is None:
            return "unknown", float("nan")
        t, v = series
        s, e = start.value, end.value
        lo, mid, hi = np.searchsorted(t, [s - before.value, s, e], side="left")
        hi = np.searchsorted(t, e, side="right")
        pre, now = v[lo:mid], v[mid:hi]
        if len(pre) < 5 or not len(now):
            return "unknown", float("nan")
        base = float(np.median(pre))
        spread = 1.4826 * float(np.median(np.abs(pre - base)))
        level = float(np.median(now))
        # The spread floor keeps a flat (or quantised) series from calling every wiggle a move.
        tolerance = z * max(spread, 0.02 * abs(base), 1e-9)
        ratio = level / base if base else (float("inf") if level > 0 else 1.0)
        if abs(level - base) <= tolerance:
            return "flat", ratio
        return ("up" if level > base else "down"), ratio


def describe(eps: pd.DataFrame, values: SeriesValues) -> pd.DataFrame:
    """Add signal_class, direction, ratio and harmful to episodes."""
    out = eps.copy()
    out["signal_class"] = [signal_class(s, lv) for s, lv in zip(out["signal"].astype(str), out["level"].astype(str))]
    moves = [("up", float("nan")) if str(sig).startswith("logs:") else values.move(str(svc), str(sig), str(host), s, e)
             for svc, sig, host, s, e in zip(out["service"], out["signal"], out["host"], out["start"], out["end"])]
    out["direction"] = [m[0] for m in moves]
    out["ratio"] = [m[1] for m in moves]
    cls, direction = out["signal_class"], out["direction"]
    # Unknown direction (too little history before the episode) is taken at its word.
    bad_up = cls.isin(HARMFUL_UP) & direction.isin(["up", "unknown"])
    # A signal we cannot classify counts whichever way it moved (groundedness down, a custom KPI up).
    out["harmful"] = bad_up | ((cls == "traffic") & (direction == "down")) | ((cls == "other") & (direction != "flat"))
    return out
