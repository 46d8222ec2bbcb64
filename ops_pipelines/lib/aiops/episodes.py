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
        t = metrics["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        v = pd.to_numeric(metrics["value"], errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(v)
        # Integer codes, not a string per row: a day of 2,000 services is 3 x 29M Python strings otherwise.
        names, codes = zip(*(_sorted_codes(metrics[c] if c in metrics else pd.Series("", index=metrics.index), keep)
                             for c in ("service", "metric", "host")))
        t, v = t[keep], v[keep]
        if not len(t):
            return
        order = np.lexsort((t, codes[2], codes[1], codes[0]))  # stable: by name, then time, as one sort did before
        t, v = t[order], v[order]
        sc, mc, hc = (c[order] for c in codes)
        starts = np.flatnonzero(np.r_[True, (sc[1:] != sc[:-1]) | (mc[1:] != mc[:-1]) | (hc[1:] != hc[:-1])])
        for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(t)]):
            self._index[(names[0][sc[a]], names[1][mc[a]], names[2][hc[a]])] = (t[a:b], v[a:b])

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


def _sorted_codes(column: pd.Series, keep: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The column's values as `astype(str)` writes them, sorted, and each kept row's position among them."""
    codes, uniques = pd.factorize(column)
    text = [str(u) for u in uniques]
    missing = codes == -1  # None and NaN share a code here, but astype(str) tells them apart
    if missing.any():
        more, more_text = pd.factorize(column[missing].astype(str))
        codes[missing] = more + len(text)
        text += list(more_text)
    names, inverse = np.unique(np.array(text, dtype=object), return_inverse=True)
    return names.tolist(), inverse[codes[keep]]


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
