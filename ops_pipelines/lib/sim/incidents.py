"""Incident plan and deploys: what goes wrong where and when, drawn once per seed."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .clock import MINUTES_PER_DAY, Day, Stream, day_rng, world_rng
from .config import WorldConfig
from .topology import upstream_reach


@dataclass(frozen=True)
class Effect:
    """A change to one metric series; `host` "" means every host (or the service-level series)."""

    service: str
    metric: str
    host: str
    shape: str  # plateau | ramp | ramp_sq | tail | box
    mult: float
    add: float
    start: int  # minutes since the world's first midnight
    end: int
    tail: int = 0
    symptom_from: float = 0.0  # share of the window after which the change is clearly visible


@dataclass(frozen=True)
class Burst:
    """Extra log lines from incident-specific templates."""

    service: str
    templates: tuple[str, ...]
    per_min: float
    start: int
    end: int
    shape: str
    host: str
    root: str
    tail: int = 0
    symptom_from: float = 0.0


@dataclass(frozen=True)
class Incident:
    id: str
    fault_type: str
    title: str
    root: str
    start: int
    end: int
    effects: tuple[Effect, ...]
    bursts: tuple[Burst, ...]
    llm: dict[str, float]
    host: str
    deploy_version: str
    novel_template: str

    @property
    def affected_services(self) -> list[str]:
        names = {e.service for e in self.effects} | {b.service for b in self.bursts} | {self.root}
        return sorted(names)

    @property
    def last_minute(self) -> int:
        """End of the latest (lagged) effect; the incident must fit in the simulated range."""
        return max([self.end, *(e.end for e in self.effects), *(b.end for b in self.bursts)])


@dataclass(frozen=True)
class Deploy:
    service: str
    minute: int
    version: str
    incident_id: str  # "" for a routine deploy
    effects: tuple[Effect, ...]


def plan_incidents(cfg: WorldConfig, seed: int, days: int) -> list[Incident]:
    """Incidents fully inside `days`, from a plan over max(days, horizon) days.

    Planning over a fixed horizon keeps a short run a prefix of the default 14-day world.
    """
    plan = cfg.section("incident_plan")
    kinds = sorted(cfg.section("fault_types"))
    horizon = max(days, int(plan["horizon_days"]))
    rng = world_rng(seed, Stream.PLAN, horizon)
    n = max(len(kinds), round(horizon * float(plan["per_day"])))
    types = [str(k) for k in rng.permutation(kinds)] + [str(k) for k in rng.choice(kinds, n - len(kinds))]
    durations = [int(rng.integers(*_inclusive(cfg.section("fault_types")[t]["duration_min"]))) for t in types]
    windows = _place(rng, durations, horizon, cfg.shift_day_offset, plan)
    placed = sorted((w, t) for w, t in zip(windows, types) if w is not None)
    seen_types: set[str] = set()
    incidents = []
    for number, ((start, end), kind) in enumerate(placed, start=1):
        first_of_kind = kind not in seen_types
        seen_types.add(kind)
        incidents.append(_build(cfg, rng, f"INC-{number:03d}", kind, start, end, first_of_kind))
    return [inc for inc in incidents if inc.last_minute <= days * MINUTES_PER_DAY]


def _inclusive(bounds: list[int]) -> tuple[int, int]:
    return int(bounds[0]), int(bounds[1]) + 1


def _place(rng: np.random.Generator, durations: list[int], horizon: int, shift_day: int,
           plan: dict) -> list[tuple[int, int] | None]:
    """Start/end minutes per incident with the required gaps; forced slots come first."""
    gap = int(plan["min_gap_minutes"])
    windows: list[tuple[int, int] | None] = [None] * len(durations)
    if plan.get("force_midnight_crossing") and horizon >= 2:
        boundaries = [b for b in range(1, horizon) if b not in (shift_day, shift_day + 1)]
        midnight = int(rng.choice(boundaries)) * MINUTES_PER_DAY
        before = int(rng.integers(5, durations[0] - 4))
        windows[0] = (midnight - before, midnight - before + durations[0])
    if plan.get("force_shift_overlap") and shift_day < horizon and len(durations) > 1:
        start = shift_day * MINUTES_PER_DAY + int(rng.integers(6 * 60, 20 * 60))
        windows[1] = (start, start + durations[1])
    for i, duration in enumerate(durations):
        for _ in range(1000):
            if windows[i] is not None:
                break
            start = int(rng.integers(60, horizon * MINUTES_PER_DAY - duration - 60))
            if all(start + duration + gap <= w[0] or start >= w[1] + gap for w in windows if w is not None):
                windows[i] = (start, start + duration)
    return windows


def _build(cfg: WorldConfig, rng: np.random.Generator, incident_id: str, kind: str, start: int, end: int,
           first_of_kind: bool) -> Incident:
    spec = cfg.section("fault_types")[kind]
    plan = cfg.section("incident_plan")
    root = str(rng.choice(spec["roots"]))
    host = str(rng.choice(cfg.services[root].hosts))
    reach = upstream_reach(cfg.edge_weights, root, float(plan["dampening"]))
    lag = int(plan["lag_minutes_per_hop"])
    effects: list[Effect] = []
    for e in spec["effects"]:
        mult = float(rng.uniform(*e["mult"])) if "mult" in e else 1.0
        add = float(rng.uniform(*e["add"])) if "add" in e else 0.0
        base = Effect(root, e["metric"], host if e.get("host") == "one" else "", e.get("shape", "plateau"),
                      mult, add, start, end, int(e.get("tail_minutes", 0)), float(e.get("symptom_from", 0.0)))
        effects.append(base)
        if e.get("propagate"):
            effects += _propagate(base, reach, plan, lag)
    bursts = []
    for b in spec.get("logs", []):
        per_min = float(rng.uniform(*b["per_min"]))
        targets = {root: 0} if b["who"] == "root" else {
            s: d for s, (d, _) in reach.items() if d <= int(b.get("max_depth", 1))}
        for service, d in sorted(targets.items()):
            bursts.append(Burst(service, tuple(b["templates"]), per_min, start + lag * d, end + lag * d,
                                b.get("shape", "plateau"), host if b.get("host") == "one" else "", root,
                                int(b.get("tail_minutes", 0)), float(b.get("symptom_from", 0.0))))
    novel = spec.get("novel_template", "") if first_of_kind else ""
    if novel:
        per_min = float(rng.uniform(*cfg.section("logs")["novel_per_min"]))
        bursts.append(Burst(root, (novel,), per_min, start, end, "plateau", "", root))
    llm = {k: float(rng.uniform(*v)) for k, v in sorted(spec.get("llm_traces", {}).items())}
    version = f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 40))}.{int(rng.integers(0, 10))}"
    version = version if spec.get("deploy") else ""
    title = spec["title"].format(root=root, host=host, version=version)
    return Incident(incident_id, kind, title, root, start, end, tuple(effects), tuple(bursts), llm, host,
                    version, novel)


def _propagate(base: Effect, reach: dict[str, tuple[int, float]], plan: dict, lag: int) -> list[Effect]:
    """Weakened, lagged copies for callers; too-weak echoes are dropped so ground truth stays honest."""
    out = []
    for caller, (hops, strength) in sorted(reach.items()):
        mult, add = 1.0 + (base.mult - 1.0) * strength, base.add * strength
        visible = (mult - 1.0 >= float(plan["min_mult_excess"])) or (add >= float(plan["min_add"]))
        if visible:
            out.append(replace(base, service=caller, host="", mult=mult, add=add,
                               start=base.start + lag * hops, end=base.end + lag * hops))
    return out


def deploys_for_day(cfg: WorldConfig, seed: int, day: Day, incidents: list[Incident]) -> list[Deploy]:
    """Routine weekday deploys (short blips, not incidents) plus the bad deploys behind incidents."""
    spec = cfg.section("deploys")
    rng = day_rng(seed, day.index, Stream.DEPLOYS)
    count = 0 if day.date.weekday() >= 5 else int(rng.poisson(float(spec["per_weekday"])))
    lo, hi = (int(h) * 60 for h in spec["hours_utc"])
    out = []
    for _ in range(count):
        service = str(rng.choice(spec["services"]))
        minute = day.index * MINUTES_PER_DAY + int(rng.integers(lo, hi))
        length = int(rng.integers(*_inclusive(spec["blip_minutes"])))
        version = f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 40))}.{int(rng.integers(0, 10))}"
        effects = tuple(
            Effect(service, e["metric"], "", "box", float(rng.uniform(*e["mult"])) if "mult" in e else 1.0,
                   float(rng.uniform(*e["add"])) if "add" in e else 0.0, minute, minute + length)
            for e in spec["effects"])
        out.append(Deploy(service, minute, version, "", effects))
    first, last = day.abs_minutes[0], day.abs_minutes[-1]
    out += [Deploy(inc.root, inc.start, inc.deploy_version, inc.id, ())
            for inc in incidents if inc.deploy_version and first <= inc.start <= last]
    return sorted(out, key=lambda d: (d.minute, d.service))
