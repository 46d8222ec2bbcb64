"""Root causes: which services of a group are significant, which dependency explains which caller,
how a group with unrelated roots splits, and the ranked candidates with their evidence.

A candidate with fewer than `min_root_points` harmful points is a blip (infrastructure kinds need
one episode: their faults show mostly in their callers). A significant dependency that moved
first explains its caller. A third party has no telemetry: it is inferred from its callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ops_pipelines.lib.aiops.topology import INFRASTRUCTURE, Topology

if TYPE_CHECKING:
    from ops_pipelines.lib.aiops.incidents import CorrelationParams


def _stats(group: pd.DataFrame) -> dict[str, dict]:
    harmful = group[group["harmful"].astype(bool)] if "harmful" in group else group
    out = {}
    for service, eps in harmful.groupby("service", sort=True):
        first = eps.loc[eps["start"].idxmin()]
        out[str(service)] = {"points": int(eps["points"].sum()), "onset": first["start"], "first_signal": str(first["signal"]),
                             "signals": sorted(set(eps["signal"].astype(str))), "classes": set(eps.get("signal_class", pd.Series(dtype=str)))}
    return out


def _significant(service: str, stats: dict, topology: Topology, params: CorrelationParams) -> bool:
    points = stats[service]["points"] if service in stats else 0
    if topology.kind(service) in INFRASTRUCTURE:  # its faults show mostly in callers: little of its own is evidence
        return points >= params.min_alert_points
    return points >= params.min_root_points


def _blocks(dep: str, service: str, stats: dict, topology: Topology, params: CorrelationParams) -> bool:
    """Does an affected dependency explain `service`? Only if it is significant and moved first
    (a few points of a database count only when they came no later than the service's own)."""
    if dep not in stats or not _significant(dep, stats, topology, params):
        return False
    slack = params.onset_slack if stats[dep]["points"] >= params.min_root_points else pd.Timedelta(0)
    return stats[dep]["onset"] <= stats[service]["onset"] + slack


def split_roots(group: pd.DataFrame, topology: Topology, params: CorrelationParams) -> list[pd.DataFrame]:
    """One group per set of related root candidates: bottom services (significant, with no
    significant affected dependency) are related when they share an affected or third-party
    callee; every other episode goes with a root its service is connected to by calls, the
    latest to move before it (a caller hurt by two faults shows in both incidents)."""
    stats = _stats(group)
    sig = [s for s in stats if _significant(s, stats, topology, params)]
    bottoms = [s for s in sig if not any(d in sig for d in topology.descendants(s))]
    if len(bottoms) < 2:
        return [group]
    affected = set(group["service"])
    parent = {b: b for b in bottoms}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for i, a in enumerate(bottoms):
        for b in bottoms[i + 1:]:
            shared = topology.descendants(a) & topology.descendants(b)
            if any(c in affected or topology.is_dark(c) for c in shared):
                parent[find(b)] = find(a)
    roots = sorted({find(b) for b in bottoms})
    if len(roots) < 2:
        return [group]
    members = {r: [b for b in bottoms if find(b) == r] for r in roots}
    onset = {r: min(stats[b]["onset"] for b in members[r]) for r in roots}
    owner = {b: find(b) for b in bottoms}
    labels = [owner.get(ep.service) or _closest_root(ep.service, ep.start, members, onset, topology)
              for ep in group.itertuples()]
    labels = pd.Series(labels, index=group.index)
    return [group[labels == r] for r in roots if (labels == r).any()]


def _closest_root(service: str, start: pd.Timestamp, members: dict[str, list[str]], onset: dict[str, pd.Timestamp],
                  topology: Topology) -> str:
    """The root an episode of a non-root service belongs to: among the roots it is connected to by
    calls, the latest to move before the episode (else the nearest in time)."""
    linked = [r for r, bs in members.items()
              if any(topology.depends_on(service, b) is not None or topology.depends_on(b, service) is not None for b in bs)]
    pool = linked or list(members)
    before = [r for r in pool if onset[r] <= start]
    return max(before, key=lambda r: (onset[r], r)) if before else min(pool, key=lambda r: (abs(onset[r] - start), r))


def rank_root_causes(group: pd.DataFrame, topology: Topology, params: CorrelationParams,
                     change_windows: pd.DataFrame | None = None, named: pd.DataFrame | None = None) -> list[dict]:
    """Candidates with their evidence, most likely first (`named`: log lines naming third parties)."""
    stats = _stats(group)
    if not stats:  # nothing harmful: rank by whatever moved
        stats = _stats(group.assign(harmful=True))
    affected = set(stats)
    rows = []
    for service, st in stats.items():
        deps = sorted(topology.descendants(service) & affected)
        blocked = any(_blocks(d, service, stats, topology, params) for d in deps)
        rows.append({
            "service": service, "kind": topology.kind(service), "affected_dependencies": deps,
            "first_anomaly": st["onset"].isoformat(), "first_signal": st["first_signal"], "points": st["points"],
            "signals": st["signals"], "significant": _significant(service, stats, topology, params),
            "explained_by_dependency": blocked,
            "changes": _changes_before(service, st["onset"], change_windows, params),
            "_key": (not _significant(service, stats, topology, params), blocked, st["onset"], -st["points"], service),
        })
    rows.sort(key=lambda r: r["_key"])
    rows = _with_third_parties(rows, group, topology, named)
    for r in rows:
        r.pop("_key", None)
    return rows


def _with_third_parties(rows: list[dict], group: pd.DataFrame, topology: Topology,
                        named: pd.DataFrame | None = None) -> list[dict]:
    """Insert third parties the candidates call: before their best-ranked caller when its warning
    or error logs name them during the incident (or two affected callers share them), right after
    it otherwise."""
    ranked = [r["service"] for r in rows]
    texts = " ".join(group["text"].astype(str)).lower() if "text" in group else ""
    start, end = group["start"].min() - pd.Timedelta(minutes=5), group["end"].max() + pd.Timedelta(minutes=5)
    for dark in sorted({c for s in ranked for c in topology.callees(s) if topology.is_dark(c)}):
        callers = [s for s in ranked if dark in topology.callees(s)]
        hurt = [s for s in callers if {"errors", "latency"} & _classes(group, s)]
        if not hurt:
            continue
        mentions = texts.count(dark.lower())
        if named is not None and len(named):
            mentions += int(((named["target"] == dark) & named["service"].isin(hurt)
                             & (named["timestamp"] >= start) & (named["timestamp"] <= end)).sum())
        pos = ranked.index(hurt[0])
        entry = {"service": dark, "kind": "third_party", "affected_dependencies": [], "inferred_from": hurt,
                 "first_anomaly": next(r["first_anomaly"] for r in rows if r["service"] == hurt[0]),
                 "first_signal": "", "points": 0, "signals": [], "significant": True, "explained_by_dependency": False,
                 "log_mentions": mentions, "changes": []}
        at = pos if (mentions or len(hurt) >= 2) else pos + 1
        rows.insert(at, entry)
        ranked.insert(at, dark)
    return rows


def _classes(group: pd.DataFrame, service: str) -> set[str]:
    part = group[group["service"] == service]
    if "signal_class" not in part:
        return {"errors", "latency"}
    return set(part.loc[part["harmful"].astype(bool) if "harmful" in part else slice(None), "signal_class"])


def _changes_before(service: str, onset: pd.Timestamp, change_windows: pd.DataFrame | None,
                    params: CorrelationParams) -> list[dict]:
    """Changes on the service that its first harmful move followed (the same window as a change's
    impact: from just before the change to `change_after` past its end)."""
    if change_windows is None or change_windows.empty:
        return []
    hit = change_windows[(change_windows["service"] == service) & (change_windows["end"] + params.explain.change_after >= onset)
                         & (change_windows["start"] - params.explain.change_before <= onset)]
    return [{"kind": str(c.kind), "detail": str(c.detail), "start": c.start.isoformat(), "end": c.end.isoformat(),
             "source": str(c.source)} for c in hit.itertuples()][-3:]
