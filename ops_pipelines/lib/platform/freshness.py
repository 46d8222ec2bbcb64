"""When a day's partitions are due: "yesterday's partition by 06:00 UTC", the hour configurable."""

from __future__ import annotations

import datetime as dt

HOUR_ENV = "OPS_PIPELINES_FRESHNESS_HOUR"  # 0-23, UTC: a day's partitions are due at this hour of the next day
DEFAULT_HOUR = 6


def deadline_hour(env: dict[str, str] | None) -> int:
    """The configured hour; ValueError naming the variable when it is not 0-23."""
    text = ((env or {}).get(HOUR_ENV) or str(DEFAULT_HOUR)).strip()
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise ValueError(f"{HOUR_ENV}={text!r} is not an hour of the day (0-23, UTC)")
    return int(text)


def deadline_cron(hour: int) -> str:
    return f"0 {hour} * * *"


def deadline(day: str, hour: int) -> dt.datetime:
    """When partition `day` is due: `hour`:00 UTC on the following day."""
    return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(hour), tzinfo=dt.UTC)


def freshness_line(day: str, hour: int) -> str:
    """One line for the health report: when this day was due and what watches it (no clock reading: the same
    day gives the same report, whenever it is re-run)."""
    return (f"Freshness: this day's partitions are due by {deadline(day, hour):%Y-%m-%d %H:%M} UTC; a freshness_check "
            f"on each daily asset warns (freshness_checks_sensor) when yesterday's partition is missing at "
            f"{hour:02d}:00 UTC")
