"""Calendar helpers: day frames, ISO timestamp strings, seasonality and seeded RNG streams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

MINUTES_PER_DAY = 1440
MS_PER_MINUTE = 60_000
# Stands in for the day index of streams that belong to the whole world, not to one day.
_WORLD_DAY = 999_999


class Stream(IntEnum):
    """One id per generator so adding a generator never shifts another one's random draws."""

    METRICS = 1
    GAPS = 2
    LATE = 3
    DEPLOYS = 4
    LOGS = 5
    LLM = 6
    RECSYS = 7
    BAD_ROWS = 8
    HOSTS = 9
    PLAN = 10
    CATALOG = 11
    USERS = 12
    CHANGES = 13
    JOBS = 14
    SURGES = 15


def day_rng(seed: int, day_index: int, stream: Stream, *extra: int) -> np.random.Generator:
    """RNG for one day and stream: day k is the same whatever the run length."""
    return np.random.default_rng([seed, day_index, int(stream), *extra])


def world_rng(seed: int, stream: Stream, *extra: int) -> np.random.Generator:
    """RNG for draws that span the whole world (catalog, users, host quirks, incident plan)."""
    return np.random.default_rng([seed, _WORLD_DAY, int(stream), *extra])


@dataclass(frozen=True)
class Day:
    """One simulated UTC day; `abs_minutes` counts minutes since the world's first midnight."""

    index: int
    date: dt.date
    start_ms: int
    abs_minutes: np.ndarray
    load: np.ndarray

    @property
    def iso(self) -> str:
        return self.date.isoformat()


def make_day(start: dt.date, index: int, seasonality: dict) -> Day:
    date = start + dt.timedelta(days=index)
    start_ms = int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp() * 1000)
    abs_minutes = index * MINUTES_PER_DAY + np.arange(MINUTES_PER_DAY)
    return Day(index, date, start_ms, abs_minutes, traffic_profile(date, seasonality))


def traffic_profile(date: dt.date, seasonality: dict) -> np.ndarray:
    """Relative load per minute (1.0 = weekday evening peak).

    The weekday factor is interpolated between neighbouring days' noons so Sunday night does not
    jump to Monday's level at midnight (a detector would rightly flag such a step).
    """
    hourly = np.asarray(seasonality["hourly_utc"], dtype=float)
    knots = np.append(hourly, hourly[0])
    minute = np.arange(MINUTES_PER_DAY)
    daily = np.interp((minute + 0.5) / 60.0, np.arange(25), knots)
    weekly = seasonality["weekday_factor"]
    wd = date.weekday()
    prev_f, cur_f, next_f = weekly[(wd - 1) % 7], weekly[wd], weekly[(wd + 1) % 7]
    half = MINUTES_PER_DAY / 2
    week = np.where(minute < half,
                    prev_f + (cur_f - prev_f) * (minute + half) / MINUTES_PER_DAY,
                    cur_f + (next_f - cur_f) * (minute - half) / MINUTES_PER_DAY)
    return daily * week


def offset_suffix(offset_minutes: int) -> str:
    if offset_minutes == 0:
        return "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def iso_from_ms(epoch_ms: np.ndarray, offset_minutes: int = 0, unit: str = "ms") -> np.ndarray:
    """Epoch milliseconds -> ISO 8601 strings with an explicit offset (object array)."""
    local = (np.asarray(epoch_ms, dtype=np.int64) + offset_minutes * MS_PER_MINUTE).astype("datetime64[ms]")
    text = np.datetime_as_string(local, unit=unit).astype(object)
    return text + offset_suffix(offset_minutes)


def iso_minute(start: dt.date, abs_minute: float) -> str:
    """Minutes since the world's first midnight -> 'YYYY-MM-DDTHH:MM:SSZ'."""
    base = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    moment = base + dt.timedelta(minutes=float(abs_minute))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ar1_noise(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    """Unit-variance AR(1) noise per row, started in its stationary distribution."""
    from scipy.signal import lfilter

    innovations = rng.standard_normal(shape) * np.sqrt(1.0 - phi * phi)
    innovations[:, 0] = rng.standard_normal(shape[0])
    return lfilter([1.0], [1.0, -phi], innovations, axis=1)
