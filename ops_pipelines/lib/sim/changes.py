"""Routine change on the platform: deploys, config changes, nightly jobs and demand surges.

None of these is an incident, but each moves telemetry: a rollout blips, some releases and config
changes leave a small lasting level shift, scheduled jobs load the databases at the same time every
night, and a demand surge lifts traffic on most services at once. The bad deploys behind
incidents are changes too (they carry the incident's id in ground truth only).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .badrows import BadRowLedger
from .clock import MINUTES_PER_DAY, Day, Stream, day_rng, iso_minute, world_rng
from .config import WorldConfig
from .incidents import Effect, Incident, propagate
from .topology import upstream_reach
from .writers import write_lines

FOREVER = 10**8  # end minute of a lasting shift


@dataclass(frozen=True)
class Change:
    """A deploy or config change; `minute` is when it took effect (deploy finished)."""

    service: str
    kind: str  # deploy | config
    started: int
    minute: int
    detail: str  # the version for deploys, the setting for config changes
    incident_id: str  # "" unless this change starts an incident
    effects: tuple[Effect, ...]  # during the rollout
    shift: tuple[Effect, ...]  # a lasting level shift from `minute` on (most changes have none)
    style: int  # which log phrasing the service uses (deploys)
    logged: bool  # written to the service's log
    audited: bool  # written to the changes landing file


@dataclass(frozen=True)
class Job:
    """One run of a scheduled job; `start_template` is "" for a job that logs nothing."""

    name: str
    service: str
    start: int
    end: int
    effects: tuple[Effect, ...]
    start_template: str
    end_template: str


@dataclass(frozen=True)
class Surge:
    """A demand surge: load x `mult` on `services`, ramping in and out over `ramp` minutes."""

    start: int
    end: int
    mult: float
    ramp: int
    services: tuple[str, ...]


def _inclusive(bounds: list[int]) -> tuple[int, int]:
    return int(bounds[0]), int(bounds[1]) + 1


def _exists(cfg: WorldConfig, service: str, minute: int) -> bool:
    return service in cfg.services and cfg.services[service].since_minute <= minute


def _shift(cfg: WorldConfig, rng: np.random.Generator, service: str, minute: int, spec: dict) -> tuple[Effect, ...]:
    """A lasting level shift, faster or slower, with probability `level_shift_share`."""
    if rng.random() >= float(spec["level_shift_share"]):
        return ()
    up = rng.random() < float(spec.get("shift_up_share", 0.7))
    factor = float(rng.uniform(*(spec["shift_up"] if up else spec["shift_down"])))
    return tuple(Effect(service, metric, "", "plateau", 1.0 + (factor - 1.0) * float(weight), 0.0, minute, FOREVER)
                 for metric, weight in sorted(spec["shift_metrics"].items()))


def changes_for_day(cfg: WorldConfig, seed: int, day: Day, incidents: list[Incident]) -> list[Change]:
    """The day's routine deploys and config changes, plus the bad deploys that start incidents."""
    first, last = int(day.abs_minutes[0]), int(day.abs_minutes[-1])
    out = _deploys(cfg, seed, day) + _config_changes(cfg, seed, day)
    spec = cfg.section("deploys")
    for inc in incidents:
        if inc.deploy_version and first <= inc.start <= last:
            rollout = int(spec["rollout_minutes"][0])
            out.append(Change(inc.root, "deploy", inc.start - rollout, inc.start, inc.deploy_version, inc.id, (), (),
                              _style(cfg, inc.root), True, inc.root in spec["audited_services"]))
    return sorted(out, key=lambda c: (c.minute, c.service, c.kind))


def _style(cfg: WorldConfig, service: str) -> int:
    # Each team phrases its deploy notices its own way; fixed per service.
    names = sorted(cfg.services)
    return names.index(service) % len(cfg.section("deploys")["log_styles"])


def _deploys(cfg: WorldConfig, seed: int, day: Day) -> list[Change]:
    spec = cfg.section("deploys")
    rng = day_rng(seed, day.index, Stream.DEPLOYS)
    count = 0 if day.date.weekday() >= 5 else int(rng.poisson(float(spec["per_weekday"])))
    lo, hi = (int(h) * 60 for h in spec["hours_utc"])
    out = []
    for _ in range(count):
        service = str(rng.choice(spec["services"]))
        started = day.index * MINUTES_PER_DAY + int(rng.integers(lo, hi))
        done = started + int(rng.integers(*_inclusive(spec["rollout_minutes"])))
        version = f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 40))}.{int(rng.integers(0, 10))}"
        effects = tuple(
            Effect(service, e["metric"], "", "box", float(rng.uniform(*e["mult"])) if "mult" in e else 1.0,
                   float(rng.uniform(*e["add"])) if "add" in e else 0.0, started, done)
            for e in spec["effects"])
        shift = _shift(cfg, rng, service, done, spec)
        if _exists(cfg, service, started):
            out.append(Change(service, "deploy", started, done, version, "", effects, shift, _style(cfg, service),
                              True, service in spec["audited_services"]))
    return out


def _config_changes(cfg: WorldConfig, seed: int, day: Day) -> list[Change]:
    spec = cfg.section("config_changes")
    rng = day_rng(seed, day.index, Stream.CHANGES)
    rate = float(spec["per_weekday"]) * (float(spec["weekend_factor"]) if day.date.weekday() >= 5 else 1.0)
    lo, hi = (int(h) * 60 for h in spec["hours_utc"])
    out = []
    for _ in range(int(rng.poisson(rate))):
        service = str(rng.choice(spec["services"]))
        minute = day.index * MINUTES_PER_DAY + int(rng.integers(lo, hi))
        template = str(rng.choice(spec["details"]))
        detail = template.format(flag=str(rng.choice(spec["flags"])), on=str(rng.choice(["on", "off"])),
                                 old=int(rng.integers(2, 20)) * 10, new=int(rng.integers(2, 20)) * 10)
        shift = _shift(cfg, rng, service, minute, spec)
        logged = bool(rng.random() < float(spec["logged_share"]))
        if _exists(cfg, service, minute):
            out.append(Change(service, "config", minute, minute, detail, "", (), shift, 0, logged, True))
    return out


def jobs_for_day(cfg: WorldConfig, seed: int, day: Day) -> list[Job]:
    """Every scheduled job's run today: the same time each day, give or take its jitter."""
    rng = day_rng(seed, day.index, Stream.JOBS)
    plan = cfg.section("incident_plan")
    out = []
    for spec in cfg.section("scheduled_jobs"):
        hour, minute = (int(x) for x in spec["at_utc"].split(":"))
        jitter = int(spec["jitter_minutes"])
        start = day.index * MINUTES_PER_DAY + hour * 60 + minute + int(rng.integers(-jitter, jitter + 1))
        end = start + int(rng.integers(*_inclusive(spec["duration_min"])))
        reach = upstream_reach(cfg.edge_weights, spec["service"], float(plan["dampening"]))
        effects: list[Effect] = []
        for e in spec["effects"]:
            base = Effect(spec["service"], e["metric"], "", "plateau", float(rng.uniform(*e["mult"])) if "mult" in e else 1.0,
                          float(rng.uniform(*e["add"])) if "add" in e else 0.0, start, end)
            effects.append(base)
            if e.get("propagate"):
                effects += propagate(base, reach, plan, int(plan["lag_minutes_per_hop"]))
        logs = spec.get("logs", {})
        out.append(Job(spec["name"], spec["service"], start, end, tuple(effects), logs.get("start", ""), logs.get("end", "")))
    return out


def plan_surges(cfg: WorldConfig, seed: int, start: dt.date, days: int, incidents: list[Incident]) -> list[Surge]:
    """Evening demand surges: the first Friday evening, plus `extra` on other days, away from incidents."""
    spec = cfg.section("surges")
    horizon = max(days, int(cfg.section("incident_plan")["horizon_days"]))
    rng = world_rng(seed, Stream.SURGES, horizon)
    fridays = [d for d in range(horizon) if (start + dt.timedelta(days=d)).weekday() == 4]
    others = [d for d in range(2, horizon) if d not in fridays[:1]]
    chosen = fridays[:1] + [int(d) for d in rng.permutation(others)]
    wanted = len(fridays[:1]) + int(spec["extra"])
    eligible = sorted(s for s in cfg.services if cfg.services[s].since_minute == 0 and s not in spec.get("exclude", []))
    out: list[Surge] = []
    for d in chosen:
        if len(out) >= wanted:
            break
        lo, hi = spec["start_hour_utc"]
        begin = d * MINUTES_PER_DAY + int(rng.uniform(lo, hi) * 60)
        end = begin + int(rng.integers(*_inclusive(spec["duration_min"])))
        share = float(rng.uniform(*spec["service_share"]))
        rest = [s for s in eligible if s not in spec["entry"]]
        picked = list(spec["entry"]) + [str(s) for s in rng.choice(rest, int(round(share * len(rest))), replace=False)]
        mult = float(rng.uniform(*spec["mult"]))
        clear = all(end + 120 <= i.start or begin >= i.last_minute + 120 for i in incidents)
        if clear:
            out.append(Surge(begin, end, mult, int(spec["ramp_minutes"]), tuple(sorted(picked))))
    return [s for s in out if s.end <= days * MINUTES_PER_DAY]


def write_changes(out: Path, day: Day, changes: list[Change], start: dt.date, ledger: BadRowLedger) -> int:
    """The audited changes of the day as `changes/<day>/changes.jsonl` (what a CD/config system exports)."""
    lines = [json.dumps({"timestamp": iso_minute(start, c.minute), "service": c.service, "kind": c.kind,
                         "detail": f"version {c.detail}" if c.kind == "deploy" else c.detail})
             for c in changes if c.audited]
    rel = f"changes/{day.iso}/changes.jsonl"
    write_lines(out / rel, lines)
    ledger.record(rel, len(lines), {})
    return len(lines)


def change_record(start: dt.date, c: Change) -> dict[str, Any]:
    """Ground truth for one change: what it did (none, blip, level_shift or regression)."""
    effect = "regression" if c.incident_id else "level_shift" if c.shift else "blip" if c.effects else "none"
    out: dict[str, Any] = {
        "service": c.service, "kind": c.kind, "time": iso_minute(start, c.minute), "started": iso_minute(start, c.started),
        "detail": c.detail, "incident_id": c.incident_id or None, "effect": effect, "logged": c.logged,
        "audited": c.audited, "end": iso_minute(start, max([c.minute, *(e.end for e in c.effects)])),
    }
    if c.shift:
        out["shift_factor"] = round(c.shift[0].mult, 4)
    return out


def job_record(start: dt.date, job: Job) -> dict[str, Any]:
    return {"name": job.name, "service": job.service, "start": iso_minute(start, job.start),
            "end": iso_minute(start, job.end), "logged": bool(job.start_template),
            "services": sorted({e.service for e in job.effects})}


def surge_record(start: dt.date, surge: Surge) -> dict[str, Any]:
    return {"start": iso_minute(start, surge.start), "end": iso_minute(start, surge.end), "mult": round(surge.mult, 4),
            "services": list(surge.services)}
