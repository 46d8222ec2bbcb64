"""Anomalies -> episodes -> incidents with ranked root causes and a suggested action.

An episode is one series' run of anomalous points (gaps up to `episode_gap`); single-point blips
are dropped. Each episode is described by what it means (episodes.py: kind of signal, direction,
harmful or not) and checked for an explanation (explain.py: warm-up, recurring at this time of
day, following a change, part of a traffic event). Harmful episodes group when they start within
`join_gap` of a group's end and their service is within `max_hops` of one in it; a group whose
bottom services (those with no significantly affected dependency) are unrelated is split, so a
caller two independent faults share does not merge them. A group is an incident when its
unexplained evidence is enough; otherwise it becomes an annotation (change impact, scheduled
job, recurring, warm-up). Broad traffic rises become traffic-event annotations.

Root-cause candidates are ranked by (1) significance (blips below `min_root_points` harmful
points rank last; databases, caches and queues need only one episode), (2) whether a
significant dependency moved first (a fault propagates to callers), (3) which moved first,
(4) harmful anomaly mass. A third party (no telemetry) is inferred from its callers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops import explain
from ops_pipelines.lib.aiops.changes import ChangePatterns, windows
from ops_pipelines.lib.aiops.context import IncidentContext
from ops_pipelines.lib.aiops.episodes import SeriesValues, describe, episodes
from ops_pipelines.lib.aiops.root_cause import rank_root_causes, split_roots
from ops_pipelines.lib.aiops.topology import Topology

__all__ = ["episodes", "rank_root_causes", "split_roots"]

EVENT_COLUMNS = ["timestamp", "service", "signal", "host", "score"]
INCIDENT_COLUMNS = [
    "incident_id", "start", "end", "severity", "root_cause", "suggested_action", "runbook", "affected_services",
    "root_cause_candidates", "signals", "anomalous_points", "episodes",
]
ANNOTATION_COLUMNS = ["annotation_id", "start", "end", "kind", "services", "reason", "signals", "anomalous_points", "episodes"]


@dataclass(frozen=True)
class CorrelationParams:
    episode_gap: pd.Timedelta = pd.Timedelta(minutes=5)
    join_gap: pd.Timedelta = pd.Timedelta(minutes=10)
    max_hops: int = 2
    min_points: int = 4  # an incident needs this many anomalous points ...
    min_series: int = 2  # ... spread over at least this many series
    # A single service moving for less than this is a blip (a deploy, a restart), not an incident.
    min_single_service_duration: pd.Timedelta = pd.Timedelta(minutes=5)
    min_alert_points: int = 2  # an episode of one point is a blip: suppressed, never an alert
    min_root_points: int = 5  # fewer harmful points: a blip that neither ranks as root nor splits a group
    onset_slack: pd.Timedelta = pd.Timedelta(minutes=10)  # a dependency moving this much later still explains a caller
    rollout_grace: pd.Timedelta = pd.Timedelta(minutes=10)  # symptoms ending this soon after a change are its rollout
    change_max_ratio: float = 1.8  # a shift after a change larger than this is a regression, not its impact
    explain: explain.ExplainParams = field(default_factory=explain.ExplainParams)


@dataclass
class Correlation:
    """What correlation found: incidents, annotations (explained movement) and the episodes."""

    incidents: pd.DataFrame
    annotations: pd.DataFrame
    episodes: pd.DataFrame
    first_seen: dict = field(default_factory=dict)  # service -> when it first reported (for the next day)


def alerts(events: pd.DataFrame, params: CorrelationParams = CorrelationParams()) -> pd.DataFrame:
    """Episodes that survive suppression: the alerts a person would otherwise have received."""
    eps = episodes(events, params.episode_gap)
    return eps[eps["points"] >= params.min_alert_points].reset_index(drop=True)


def correlate_all(events: pd.DataFrame, topology: Topology, rules: list[dict], metrics: pd.DataFrame | None = None,
                  changes: pd.DataFrame | None = None, patterns: ChangePatterns | None = None,
                  context: IncidentContext | None = None, logs: pd.DataFrame | None = None,
                  params: CorrelationParams = CorrelationParams()) -> Correlation:
    """Incidents and annotations from anomaly events, the raw metric values (for directions and
    traffic), change events, what earlier days left in `context` and the raw log lines (for
    errors that name a third party)."""
    context = context or IncidentContext.empty()
    values = SeriesValues(metrics)
    eps = alerts(events, params)
    if patterns is not None and len(eps):
        eps = eps[~patterns.matches(eps["text"])].reset_index(drop=True)  # change notices are not symptoms
    eps = describe(eps, values)
    change_windows = windows(changes, patterns or ChangePatterns(())) if changes is not None and len(changes) else _no_windows()
    eps, first_seen = _explain(eps, events if logs is None else logs, values, change_windows, context, topology, params)
    if values.keys():  # with telemetry to look at, a node that never reported is a third party
        topology = topology.with_kinds(explain.unobserved(topology, first_seen))
    traffic = explain.traffic_events(eps, values, params.explain)
    eps["load"] = explain.load_following(eps, traffic, topology, params.explain) | explain.own_load(eps, params.explain)
    candidates = eps[eps["harmful"] & ~eps["load"]]
    named = explain.mentions(logs, [s for s in topology.services if topology.is_dark(s)])
    incidents, annotations = [], [_traffic_annotation(e, eps) for e in traffic]
    for group in correlate(candidates, topology, params):
        for part in split_roots(group, topology, params):
            verdict = _judge(part, change_windows, params)
            if verdict is None:
                incidents.append(_incident_row(part, topology, rules, change_windows, params, named))
            elif verdict:
                annotations.append(_annotation(part, *verdict))
    return Correlation(pd.DataFrame(incidents, columns=INCIDENT_COLUMNS),
                       pd.DataFrame(annotations, columns=ANNOTATION_COLUMNS).sort_values("start", kind="stable").reset_index(drop=True),
                       eps, first_seen)


def build_incidents(events: pd.DataFrame, topology: Topology, rules: list[dict], params: CorrelationParams = CorrelationParams(),
                    **inputs) -> pd.DataFrame:
    """One row per incident: window, severity, ranked root causes with evidence, suggested action
    (`inputs`: metrics, changes, patterns, context; see `correlate_all`)."""
    return correlate_all(events, topology, rules, params=params, **inputs).incidents


def _no_windows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c in ("start", "end") else object)
                         for c in ("service", "kind", "detail", "source", "start", "end")})


def _explain(eps: pd.DataFrame, lines: pd.DataFrame, values: SeriesValues, change_windows: pd.DataFrame,
             context: IncidentContext, topology: Topology, params: CorrelationParams) -> tuple[pd.DataFrame, dict]:
    """Add warm, expected and change to the episodes; with each service's first sighting. `lines`: raw log
    lines (or, without them, the log events) date each service's first log."""
    p = params.explain
    if len(lines) and "signal" in lines:
        lines = lines[lines["signal"].astype(str).str.startswith("logs:")]
    first_seen = explain.first_seen_of(values, lines if len(lines) else None, context.first_seen)
    # Warm-up lowers confidence: a series' first days count only with evidence a ramp cannot fake.
    eps["warm"] = explain.warm_up(eps, first_seen, p) & ~explain.strong(eps, p)
    history = pd.concat([context.episodes, eps[["service", "signal_class", "start"]]], ignore_index=True)
    jobs = pd.concat([context.jobs, change_windows.loc[change_windows["kind"] == "job", ["service", "start", "end"]]],
                     ignore_index=True).drop_duplicates()
    eps["expected"] = explain.recurring(eps, history, jobs, topology, p)
    eps["change"] = explain.following_change(eps, change_windows, p)
    # Returned, not kept in eps.attrs: pandas deep-copies attrs on every operation (7 of 10 s CPU a day).
    return eps, first_seen


def correlate(eps: pd.DataFrame, topology: Topology, params: CorrelationParams = CorrelationParams()) -> list[pd.DataFrame]:
    """Group episodes (already alerts) by time and topology, in start order."""
    clusters: list[dict] = []  # open: a later episode may still join
    closed: list[dict] = []
    # Episodes come in start order, so a cluster that ended more than join_gap before this start is
    # closed for good: scanning only the open ones keeps a day of 10^5 episodes linear.
    in_order = eps["start"].is_monotonic_increasing
    for n, ep in enumerate(eps[["start", "end", "service"]].itertuples()):
        if in_order:
            closed += [c for c in clusters if ep.start > c["end"] + params.join_gap]
            clusters = [c for c in clusters if ep.start <= c["end"] + params.join_gap]
        hits = [
            c for c in clusters
            if ep.start <= c["end"] + params.join_gap
            and any(topology.distance(ep.service, s) <= params.max_hops for s in c["services"])
        ]
        if not hits:
            clusters.append({"seq": n, "rows": [ep.Index], "end": ep.end, "services": {ep.service}})
            continue
        keep = hits[0]
        for other in hits[1:]:  # the episode bridges several candidates; split_roots undoes unrelated bridges
            keep["rows"] += other["rows"]
            keep["services"] |= other["services"]
            keep["end"] = max(keep["end"], other["end"])
            clusters.remove(other)
        keep["rows"].append(ep.Index)
        keep["services"].add(ep.service)
        keep["end"] = max(keep["end"], ep.end)
    return [eps.loc[sorted(c["rows"])] for c in sorted(closed + clusters, key=lambda c: c["seq"])]


def _judge(part: pd.DataFrame, change_windows: pd.DataFrame, params: CorrelationParams) -> tuple[str, str] | None | bool:
    """None: an incident. (kind, reason): explained movement worth an annotation. False: noise."""
    if not _is_incident(part, params):
        return False
    opening = part[~part["warm"] & (part["expected"] == "")] if "warm" in part else part
    if not _is_incident(opening, params):
        expected = sorted(set(part["expected"]) - {""})
        job = next((r for r in expected if r.startswith("job:")), None)
        if job:
            return "scheduled_job", f"inside a run of a job on {job[4:]} logged at this time on earlier days"
        if expected:
            return "recurring", "the same services moved at this time of day on earlier days"
        return "warm_up", "too little evidence from series that appeared less than the warm-up period ago"
    return _local_change(part, change_windows, params)


def _local_change(part: pd.DataFrame, change_windows: pd.DataFrame, params: CorrelationParams) -> tuple[str, str] | None:
    """(kind, reason) when every harmful episode of the group is a modest, error-free shift
    following a change on its own service (or warm-up / recurring): the change's impact. None
    otherwise: no change, or a bad one (errors or a big shift lasting past the rollout, or
    services hurt that did not change themselves)."""
    if "change" not in part or not (part["change"] >= 0).any():
        return None
    for ep in part.itertuples():
        if ep.change < 0:
            if not ep.warm and ep.expected == "":
                return None
            continue
        after = change_windows.loc[int(ep.change), "end"] + params.rollout_grace
        lasting = ep.end > after
        if lasting and (ep.signal_class == "errors" or ep.ratio > params.change_max_ratio):
            return None
    change = change_windows.loc[int(part.loc[part["change"] >= 0, "change"].iloc[0])]
    return ("change_impact", f"{change['kind']} on {change['service']} at {change['start']:%Y-%m-%d %H:%M} ({change['detail']}): "
                  "a local shift without errors")


def _is_incident(group: pd.DataFrame, params: CorrelationParams) -> bool:
    if group.empty or group["points"].sum() < params.min_points or len(group) < params.min_series:
        return False
    lasting = group["end"].max() - group["start"].min() >= params.min_single_service_duration
    # Errors on two signals at once (a metric and a log, say) are not a restart blip, however short.
    errors = (group["signal_class"] == "errors").sum() >= 2 if "signal_class" in group else False
    return group["service"].nunique() > 1 or lasting or errors


def _incident_row(group: pd.DataFrame, topology: Topology, rules: list[dict], change_windows: pd.DataFrame,
                  params: CorrelationParams, named: pd.DataFrame | None = None) -> dict:
    candidates = rank_root_causes(group, topology, params, change_windows, named)
    root = candidates[0]
    runbook, action = suggest_action(root, rules, set(group["signal"].astype(str)))
    if root.get("changes"):
        c = root["changes"][-1]
        action = f"Roll back the {c['kind']} of {root['service']} at {c['start'][11:16]} UTC ({c['detail']}). " + action
    start, end = group["start"].min(), group["end"].max()
    services = sorted(set(group["service"]) | {c["service"] for c in candidates if c.get("kind") == "third_party"})
    first = group.sort_values(["start", "service", "signal", "host"]).iloc[0]
    # The id depends only on how the incident began, so it survives being extended by the next day.
    digest = hashlib.sha256(f"{start.isoformat()}|{first['service']}|{first['signal']}|{first['host']}".encode()).hexdigest()[:10]
    return {
        "incident_id": f"INC-{start:%Y%m%d-%H%M}-{digest[:4]}",
        "start": start, "end": end,
        "severity": severity(len(services), end - start, root),
        "root_cause": root["service"], "suggested_action": action, "runbook": runbook,
        "affected_services": services,
        "root_cause_candidates": json.dumps(candidates, default=str),
        "signals": len(group[["service", "signal", "host"]].drop_duplicates()),
        "anomalous_points": int(group["points"].sum()),
        "episodes": len(group),
    }


def _annotation(group: pd.DataFrame, kind: str, reason: str) -> dict:
    start = group["start"].min()
    digest = hashlib.sha256(f"{kind}|{start.isoformat()}|{','.join(sorted(set(group['service'])))}".encode()).hexdigest()[:4]
    return {"annotation_id": f"ANN-{start:%Y%m%d-%H%M}-{digest}", "start": start, "end": group["end"].max(), "kind": kind,
            "services": sorted(set(group["service"])), "reason": reason,
            "signals": len(group[["service", "signal", "host"]].drop_duplicates()),
            "anomalous_points": int(group["points"].sum()), "episodes": len(group)}


def _traffic_annotation(event: dict, eps: pd.DataFrame) -> dict:
    inside = eps[(eps["start"] >= event["start"]) & (eps["start"] <= event["end"]) & eps["service"].isin(event["services"])]
    group = inside if len(inside) else pd.DataFrame({"service": event["services"], "signal": "", "host": "", "points": 0,
                                                    "start": event["start"], "end": event["end"]})
    row = _annotation(group.assign(start=event["start"]) if inside.empty else group, "traffic_event",
                      f"traffic rose on {len(event['services'])} services at once, without errors")
    row.update(start=event["start"], end=event["end"], services=event["services"])
    return row


def suggest_action(candidate: dict, rules: list[dict], incident_signals: set[str] = frozenset()) -> tuple[str, str]:
    """(runbook name, action) of the first runbook rule that fits the root-cause candidate
    (rules with `anywhere` look at every signal of the incident, not only the root's)."""
    for rule in rules:
        if "services" in rule and candidate["service"] not in rule["services"]:
            continue
        signals = incident_signals if rule.get("anywhere") else set(candidate["signals"])
        if "metrics_any" in rule and not set(rule["metrics_any"]) & signals:
            continue
        if rule.get("logs") and not any(s.startswith("logs") for s in candidate["signals"]):
            continue
        if rule.get("kinds") and candidate.get("kind", "service") not in rule["kinds"]:
            continue
        return rule["name"], rule["action"].format(service=candidate["service"])
    return "none", f"Investigate {candidate['service']}."


def load_runbooks(path: Path) -> list[dict]:
    rules = json.loads(Path(path).read_text()).get("rules")
    if not isinstance(rules, list) or not all(isinstance(r, dict) and "name" in r and "action" in r for r in rules):
        raise ValueError(f"{path}: expected {{'rules': [{{'name', 'action', ...}}]}}")
    return rules


def severity(n_services: int, duration: pd.Timedelta, root: dict) -> str:
    """critical: wide or long with errors; major: several services; minor: one service."""
    errors = "error_rate" in root["signals"]
    if n_services >= 4 or (errors and duration >= pd.Timedelta(minutes=30)):
        return "critical"
    return "major" if n_services >= 2 else "minor"


def metric_events(anomalies: pd.DataFrame) -> pd.DataFrame:
    """Flagged metric points as correlation events."""
    flagged = anomalies[anomalies["is_anomaly"]]
    return pd.DataFrame({
        "timestamp": flagged["timestamp"].to_numpy(),
        "service": flagged["service"].astype(str).to_numpy(),
        "signal": flagged["metric"].astype(str).to_numpy(),
        "host": flagged["host"].astype(str).to_numpy(),
        "score": flagged["anomaly_score"].to_numpy(dtype=np.float64),
    }, columns=EVENT_COLUMNS)


def log_events(log_anomalies: pd.DataFrame) -> pd.DataFrame:
    """Minutes with alerting log lines (critical lines, bursts while they last) as correlation events,
    with the line's level and template text (the level says whether it is an error; the text may
    announce a change).

    log_anomalies has one row per line; a burst alerts once but every line while it lasts is
    `in_burst`, and its minutes are the evidence an incident needs. One event per minute, service
    and template (its highest-scoring line), as the detector's rows were before it scored lines.
    """
    columns = [*EVENT_COLUMNS, "level", "text"]
    if log_anomalies.empty:
        return pd.DataFrame(columns=columns)
    hit = log_anomalies["is_anomaly"].astype(bool)
    if "in_burst" in log_anomalies:
        hit |= log_anomalies["in_burst"].astype(bool)
    flagged = log_anomalies[hit]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    minutes = flagged.assign(timestamp=flagged["timestamp"].dt.floor("min"), service=flagged["service"].astype(str))
    top = minutes.sort_values("score", ascending=False, kind="stable")
    per = top.drop_duplicates(["timestamp", "service", "template_id"]).sort_values(
        ["timestamp", "service", "template_id"], kind="stable")
    text = lambda col: per[col].astype(str).to_numpy() if col in per else np.full(len(per), "", dtype=object)
    return pd.DataFrame({
        "timestamp": per["timestamp"].to_numpy(),
        "service": per["service"].to_numpy(dtype=object),
        "signal": ("logs:" + per["template_id"].astype(str)).to_numpy(),
        "host": "",
        "score": per["score"].to_numpy(dtype=np.float64),
        "level": text("level"),
        "text": text("template"),
    }, columns=columns)


def all_events(metric_anomalies: pd.DataFrame, log_anomalies: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (metric_events(metric_anomalies), log_events(log_anomalies)) if len(f)]
    if not frames:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    if "level" in out:
        out[["level", "text"]] = out[["level", "text"]].fillna("")
    return out
