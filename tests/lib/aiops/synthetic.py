"""Small synthetic platforms for correlation tests: metric values with known faults, plus the
anomaly events a detector would flag on them (every point of an effect window)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.incidents import EVENT_COLUMNS

BASE = {"request_rate": 100.0, "latency_p95_ms": 50.0, "error_rate": 0.002, "cpu_utilization": 0.3}


class Platform:
    """Per-minute values of (service, metric) series from `start` for `days`, with effects on top."""

    def __init__(self, services: list[str], start: str = "2026-03-02", days: int = 1, seed: int = 0,
                 metrics: tuple[str, ...] = tuple(BASE)):
        self.times = pd.date_range(start, periods=days * 1440, freq="min", tz="UTC")
        rng = np.random.default_rng(seed)
        self.values = {(s, m): BASE[m] * np.exp(0.02 * rng.standard_normal(len(self.times))) for s in services for m in metrics}
        self.events: list[pd.DataFrame] = []

    def _window(self, start: str, minutes: int) -> np.ndarray:
        t0 = pd.Timestamp(start, tz="UTC")
        return np.asarray((self.times >= t0) & (self.times < t0 + pd.Timedelta(minutes=minutes)))

    def effect(self, service: str, metric: str, start: str, minutes: int, mult: float = 1.0, add: float = 0.0,
               flagged: int | None = None, lasting: bool = False) -> Platform:
        """Change a series over a window (or from `start` on, if `lasting`); the first `flagged`
        minutes of the window (all by default) are anomaly events."""
        window = self._window(start, minutes)
        where = np.asarray(self.times >= pd.Timestamp(start, tz="UTC")) if lasting else window
        self.values[(service, metric)] = np.where(where, self.values[(service, metric)] * mult + add, self.values[(service, metric)])
        self.flag(service, metric, start, flagged if flagged is not None else minutes)
        return self

    def flag(self, service: str, signal: str, start: str, minutes: int, level: str = "", text: str = "") -> Platform:
        """Anomaly events on every minute of a window (a log signal is `logs:<id>` with level and text)."""
        t = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=minutes, freq="min")
        self.events.append(pd.DataFrame({"timestamp": t, "service": service, "signal": signal, "host": "", "score": 0.9,
                                         "level": level, "text": text}))
        return self

    def metrics(self) -> pd.DataFrame:
        return pd.concat([pd.DataFrame({"timestamp": self.times, "service": s, "metric": m, "host": "", "value": v})
                          for (s, m), v in self.values.items()], ignore_index=True)

    def event_frame(self) -> pd.DataFrame:
        if not self.events:
            return pd.DataFrame(columns=[*EVENT_COLUMNS, "level", "text"])
        return pd.concat(self.events, ignore_index=True)
