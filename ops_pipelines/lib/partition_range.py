"""Where the daily partitions start and end: where the data does, unless configured.

Stdlib only: the code location computes it every time it loads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

START_ENV = "OPS_PIPELINES_PARTITION_START"  # first day, YYYY-MM-DD
END_ENV = "OPS_PIPELINES_PARTITION_END"  # last day, YYYY-MM-DD (included); unset: open, through yesterday
KINDS = ("metrics", "logs", "llm_traces", "model_events", "changes")  # the landing zone's kinds (lib/ingest/landing.py)


def landed_days(landing: Path) -> list[str]:
    """Every `YYYY-MM-DD` folder under any kind of the landing zone, sorted."""
    days = set()
    for kind in KINDS:
        folder = landing / kind
        if folder.is_dir():
            days.update(p.name for p in folder.iterdir() if p.is_dir() and is_day(p.name))
    return sorted(days)


def partition_range(landing: Path, env: Mapping[str, str], fallback_start: dt.date) -> tuple[str, str | None]:
    """(start date, end date exclusive or None) of the daily partitions.

    Start: `$OPS_PIPELINES_PARTITION_START`, else the first day in the landing zone, else `fallback_start`.
    End: the day after `$OPS_PIPELINES_PARTITION_END`; else, over a sample world (its ground truth names its
    days), the day after the world's last; else None (partitions run through yesterday, for the nightly runs).
    Raises ValueError naming the variable when a configured day is not a date or the range is empty."""
    start = _day(env, START_ENV)
    if start is None:
        days = landed_days(landing)
        start = dt.date.fromisoformat(days[0]) if days else fallback_start
    end = _day(env, END_ENV)
    last = end if end is not None else _world_last_day(landing)
    if last is not None and last < start:
        if end is not None:
            raise ValueError(f"{END_ENV}={last} is before the first daily partition {start}")
        last = None  # files landed after the sample world ended: they are real days, keep the range open
    return start.isoformat(), (last + dt.timedelta(days=1)).isoformat() if last is not None else None


def _world_last_day(landing: Path) -> dt.date | None:
    """The last day of a sample world written into this landing zone, if it is one and nothing landed later."""
    try:
        world = json.loads((landing / "ground_truth" / "world.json").read_text())
        last = dt.date.fromisoformat(world["start"]) + dt.timedelta(days=int(world["days"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    days = landed_days(landing)
    return last if not days or days[-1] <= last.isoformat() else None


def _day(env: Mapping[str, str], name: str) -> dt.date | None:
    text = (env.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a day (YYYY-MM-DD)") from None


def is_day(name: str) -> bool:
    """A YYYY-MM-DD folder name."""
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10
