"""Incident plan: what goes wrong where and when, drawn once per seed."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .clock import MINUTES_PER_DAY, Stream, world_rng
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


def plan_incidents(cfg: WorldConfig, seed: int, days: int) -> list[Incident]:
    """Incidents fully inside `days`, from a plan over max(days, horizon) days.

    Planning over a fixed horizon keeps a short run a prefix of the default 14-day world. With
    `force_concurrent_pair`, two independent faults whose roots share a caller overlap in time.
    """
    plan = cfg.section("incident_plan")
    kinds = sorted(cfg.section("fault_types"))
    horizon = max(days, int(plan["horizon_days"]))
    rng = world_rng(seed, Stream.PLAN, horizon)
    n = max(len(kinds), round(horizon * float(plan["per_day"])))
    types = [str(k) for k in rng.permutation(kinds)] + [str(k) for k in rng.choice(kinds, n - len(kinds))]
    roots: dict[int, str] = {}
    pairs = plan.get("concurrent_pairs", [])
    if plan.get("force_concurrent_pair") and pairs:
        kind_a, root_a, kind_b, root_b = pairs[int(rng.integers(len(pairs)))]
        roots = {len(types): str(root_a), len(types) + 1: str(root_b)}
        types += [str(kind_a), str(kind_b)]
    durations = [int(rng.integers(*_inclusive(cfg.section("fault_types")[t]["duration_min"]))) for t in types]
    windows = _place(rng, durations, horizon, cfg.shift_day_offset, plan, pair=sorted(roots))
    placed = sorted((w, t, i) for i, (w, t) in enumerate(zip(windows, types)) if w is not None)
    seen_types: set[str] = set()
    incidents = []
    for number, ((start, end), kind, i) in enumerate(placed, start=1):
        first_of_kind = kind not in seen_types
        seen_types.add(kind)
        incidents.append(_build(cfg, rng, f"INC-{number:03d}", kind, start, end, first_of_kind, roots.get(i)))
    return [inc for inc in incidents if inc.last_minute <= days * MINUTES_PER_DAY]


def concurrent_ids(cfg: WorldConfig, incidents: list[Incident]) -> dict[str, str]:
    """Incident id -> the id of the independent fault that overlaps it (the forced pair)."""
    out = {}
    for a in incidents:
        for b in incidents:
            if a.id != b.id and a.start < b.end and b.start < a.end:
                out[a.id] = b.id
    return out


def _inclusive(bounds: list[int]) -> tuple[int, int]:
    return int(bounds[0]), int(bounds[1]) + 1


def _quiet(start: int, end: int, plan: dict) -> bool:
    """True when [start, end) stays out of the daily hours kept free for scheduled jobs."""
    for lo, hi in plan.get("avoid_hours_utc", []):
        for day in range(start // MINUTES_PER_DAY - 1, end // MINUTES_PER_DAY + 1):
            a, b = day * MINUTES_PER_DAY + lo * 60, day * MINUTES_PER_DAY + hi * 60
            if start < b and a < end:
                return False
    return True


def _place(rng: np.random.Generator, durations: list[int], horizon: int, shift_day: int,
           plan: dict, pair: list[int] = ()) -> list[tuple[int, int] | None]:
    """Start/end minutes per incident with the required gaps; forced slots come first.

    The indices in `pair` overlap each other (the second starts a few minutes after the first) and
    keep the usual gap to everything else.
    """
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

    def free(start: int, end: int) -> bool:
        return _quiet(start, end, plan) and all(end + gap <= w[0] or start >= w[1] + gap for w in windows if w is not None)

    if len(pair) == 2:
        a, b = pair
        for _ in range(1000):
            start = int(rng.integers(2 * MINUTES_PER_DAY, horizon * MINUTES_PER_DAY - max(durations[a], durations[b]) - 120))
            lag = int(rng.integers(*_inclusive(plan.get("concurrent_lag_minutes", [5, 20]))))
            span = (start, max(start + durations[a], start + lag + durations[b]))
            if free(*span):
                windows[a], windows[b] = (start, start + durations[a]), (start + lag, start + lag + durations[b])
                break
    for i, duration in enumerate(durations):
        for _ in range(1000):
            if windows[i] is not None:
                break
            start = int(rng.integers(60, horizon * MINUTES_PER_DAY - duration - 60))
            if free(start, start + duration):
                windows[i] = (start, start + duration)
    return windows


def _build(cfg: WorldConfig, rng: np.random.Generator, incident_id: str, kind: str, start: int, end: int,
           first_of_kind: bool, root: str | None = None) -> Incident:
    spec = cfg.section("fault_types")[kind]
    plan = cfg.section("incident_plan")
    drawn = str(rng.choice(spec["roots"]))  # drawn even when forced, so later draws do not shift
    root = root or drawn
    # A third party has no telemetry of its own: only its callers show the fault.
    observed = root in cfg.services
    host = str(rng.choice(cfg.services[root].hosts)) if observed else ""
    reach = upstream_reach(cfg.edge_weights, root, float(plan["dampening"]))
    lag = int(plan["lag_minutes_per_hop"])
    effects: list[Effect] = []
    for e in spec["effects"]:
        mult = float(rng.uniform(*e["mult"])) if "mult" in e else 1.0
        add = float(rng.uniform(*e["add"])) if "add" in e else 0.0
        base = Effect(root, e["metric"], host if e.get("host") == "one" else "", e.get("shape", "plateau"),
                      mult, add, start, end, int(e.get("tail_minutes", 0)), float(e.get("symptom_from", 0.0)))
        if observed:
            effects.append(base)
        if e.get("propagate"):
            effects += propagate(base, reach, plan, lag)
    bursts = []
    for b in spec.get("logs", []):
        per_min = float(rng.uniform(*b["per_min"]))
        targets = ({root: 0} if observed else {}) if b["who"] == "root" else {
            s: d for s, (d, _) in reach.items() if d <= int(b.get("max_depth", 1)) and s in cfg.services}
        for service, d in sorted(targets.items()):
            bursts.append(Burst(service, tuple(b["templates"]), per_min, start + lag * d, end + lag * d,
                                b.get("shape", "plateau"), host if b.get("host") == "one" else "", root,
                                int(b.get("tail_minutes", 0)), float(b.get("symptom_from", 0.0))))
    novel = spec.get("novel_template", "") if first_of_kind and observed else ""
    if novel:
        per_min = float(rng.uniform(*cfg.section("logs")["novel_per_min"]))
        bursts.append(Burst(root, (novel,), per_min, start, end, "plateau", "", root))
    llm = {k: float(rng.uniform(*v)) for k, v in sorted(spec.get("llm_traces", {}).items())}
    version = f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 40))}.{int(rng.integers(0, 10))}"
    version = version if spec.get("deploy") else ""
    title = spec["title"].format(root=root, host=host, version=version)
    return Incident(incident_id, kind, title, root, start, end, tuple(effects), tuple(bursts), llm, host,
                    version, novel)


def propagate(base: Effect, reach: dict[str, tuple[int, float]], plan: dict, lag: int) -> list[Effect]:
    """Weakened, lagged copies for callers; too-weak echoes are dropped so ground truth stays honest."""
    out = []
    for caller, (hops, strength) in sorted(reach.items()):
        mult, add = 1.0 + (base.mult - 1.0) * strength, base.add * strength
        visible = (mult - 1.0 >= float(plan["min_mult_excess"])) or (add >= float(plan["min_add"]))
        if visible:
            out.append(replace(base, service=caller, host="", mult=mult, add=add,
                               start=base.start + lag * hops, end=base.end + lag * hops))
    return out
