"""Synthetic service logs for the log template and log anomaly tests (no real data is read)."""

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-03-02", tz="UTC")
TABLES = np.array(["orders", "users"], dtype=object)

# name -> (service, level, lines per minute at the daily peak, message renderer)
NORMAL = {
    "access": ("api", "INFO", 4.0, lambda r, n: [f"GET /api/items/{i} 200 {ms}ms request_id={h}" for i, ms, h in
                                                 zip(r.integers(1, 999, n), r.integers(3, 900, n), _hex(r, n))]),
    "cache": ("api", "DEBUG", 1.5, lambda r, n: [f"cache hit key=item:{k} ttl={t}s" for k, t in
                                                 zip(r.integers(1, 99999, n), r.integers(60, 3600, n))]),
    "slow": ("db", "WARN", 0.3, lambda r, n: [f"slow query took {ms}ms on table {t}" for ms, t in
                                              zip(r.integers(500, 3000, n), r.choice(TABLES, n))]),
    "conn": ("db", "INFO", 2.0, lambda r, n: [f"connection from {_ip(r)} accepted" for _ in range(n)]),
    "timeout": ("api", "ERROR", 0.04, lambda r, n: [f"request {_uuid(r)} failed: upstream timeout after {ms}ms"
                                                    for ms in r.integers(1000, 5000, n)]),
    # a frequent ERROR: a routine trickle of about one line a minute at the peak
    "retry": ("api", "ERROR", 1.0, lambda r, n: [f"payment provider call failed, retry {k} of 3" for k in
                                                 r.integers(1, 4, n)]),
}
# statements never seen in normal traffic
NOVEL = {
    "disk": lambda r, n: [f"disk quota exceeded on volume vol-{v}, {p}% used" for v, p in
                          zip(r.integers(1, 9, n), r.integers(95, 100, n))],
    "quorum": lambda r, n: [f"replica db-{v} lost quorum after {k} missed heartbeats" for v, k in
                            zip(r.integers(1, 4, n), r.integers(3, 9, n))],
    "panic": lambda r, n: [f"storage node sn-{v} halted: controller firmware fault" for v in r.integers(1, 99, n)],
}


def _hex(r, n):
    return [f"{v:016x}" for v in r.integers(0, 2**62, n)]


def _ip(r):
    return "10." + ".".join(str(v) for v in r.integers(1, 255, 3))


def _uuid(r):
    h = f"{int(r.integers(0, 2**62)):016x}{int(r.integers(0, 2**62)):016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def lines(rng, minutes: np.ndarray, per_minute: np.ndarray, service: str, level: str, render) -> pd.DataFrame:
    counts = rng.poisson(per_minute)
    at = np.repeat(minutes, counts)
    ts = START + pd.to_timedelta(at * 60 + rng.uniform(0, 60, len(at)), unit="s")
    return pd.DataFrame({"timestamp": ts, "service": service, "host": f"{service}-1", "level": level,
                         "message": render(rng, len(at))})


def synthetic_logs(day: int, seed: int = 0, bursts=(), novel=()) -> pd.DataFrame:
    """One day (0 = 2026-03-02) of normal traffic with a daily cycle, plus injected extras.

    bursts: (NORMAL name, first minute of day, minutes, lines per minute) of extra lines.
    novel: (NOVEL name, level, first minute of day, minutes, lines per minute), service "api".
    """
    rng = np.random.default_rng([seed, day])
    minutes = np.arange(day * 1440, (day + 1) * 1440)
    cycle = 0.35 + 0.65 * np.sin(np.pi * (minutes % 1440) / 1440) ** 2  # quiet nights, busy afternoons
    parts = [lines(rng, minutes, rate * cycle, svc, lvl, fn) for svc, lvl, rate, fn in NORMAL.values()]
    for name, first, length, rate in bursts:
        svc, lvl, _, fn = NORMAL[name]
        span = np.arange(first, first + length) + day * 1440
        parts.append(lines(rng, span, np.full(length, float(rate)), svc, lvl, fn))
    for name, level, first, length, rate in novel:
        span = np.arange(first, first + length) + day * 1440
        parts.append(lines(rng, span, np.full(length, float(rate)), "api", level, NOVEL[name]))
    return pd.concat(parts, ignore_index=True).sort_values("timestamp", kind="stable", ignore_index=True)


def at_minutes(day: int, minutes, service: str, level: str, messages) -> pd.DataFrame:
    """Lines at given minutes of a day (one per minute, at second 30)."""
    ts = START + pd.to_timedelta(day * 1440 * 60 + np.asarray(minutes) * 60 + 30, unit="s")
    return pd.DataFrame({"timestamp": ts, "service": service, "host": f"{service}-1", "level": level,
                         "message": list(messages)})
