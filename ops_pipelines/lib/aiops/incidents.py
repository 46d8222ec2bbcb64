"""Anomalies -> episodes -> incidents with ranked root causes and a suggested action.

An episode is one series' run of anomalous points (gaps up to `episode_gap`). Episodes join an
incident when they start within `join_gap` of its current end and their service is the same as,
or within `max_hops` of, a service already in it. Single-point blips that join nothing are noise.
Root-cause candidates are ranked by (1) whether anything they depend on is also affected (a
fault propagates to callers, so the root usually has no affected dependency), (2) which moved
first, (3) how much of the incident's anomaly mass they carry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.topology import Topology

EVENT_COLUMNS = ["timestamp", "service", "signal", "host", "score"]
INCIDENT_COLUMNS = [
    "incident_id", "start", "end", "severity", "root_cause", "suggested_action", "runbook", "affected_services",
    "root_cause_candidates", "signals", "anomalous_points", "episodes",
]


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


def episodes(events: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """Runs of anomalous points per (service, signal, host): start, end, points, peak score."""
    if events.empty:
        return pd.DataFrame(columns=["service", "signal", "host", "start", "end", "points", "peak"])
    ev = events.sort_values(["service", "signal", "host", "timestamp"], kind="stable").reset_index(drop=True)
    series = ev[["service", "signal", "host"]].astype(str).agg("|".join, axis=1)
    new = (series != series.shift()) | (ev["timestamp"].diff() > gap)
    ev["episode"] = new.cumsum()
    grouped = ev.groupby("episode", sort=True)
    out = grouped.agg(service=("service", "first"), signal=("signal", "first"), host=("host", "first"),
                      start=("timestamp", "min"), end=("timestamp", "max"), points=("score", "size"), peak=("score", "max"))
    return out.sort_values(["start", "service", "signal", "host"], kind="stable").reset_index(drop=True)


def alerts(events: pd.DataFrame, params: CorrelationParams = CorrelationParams()) -> pd.DataFrame:
    """Episodes that survive suppression: the alerts a person would otherwise have received."""
    eps = episodes(events, params.episode_gap)
    return eps[eps["points"] >= params.min_alert_points].reset_index(drop=True)


def correlate(events: pd.DataFrame, topology: Topology, params: CorrelationParams = CorrelationParams()) -> list[pd.DataFrame]:
    """Group episodes into incident candidates (each a frame of its episodes), in start order."""
    eps = alerts(events, params)
    clusters: list[dict] = []
    for i, ep in eps.iterrows():
        hits = [
            c for c in clusters
            if ep["start"] <= c["end"] + params.join_gap
            and any(topology.distance(ep["service"], s) <= params.max_hops for s in c["services"])
        ]
        if not hits:
            clusters.append({"rows": [i], "end": ep["end"], "services": {ep["service"]}})
            continue
        keep = hits[0]
        for other in hits[1:]:  # the episode bridges several candidates: they are one incident
            keep["rows"] += other["rows"]
            keep["services"] |= other["services"]
            keep["end"] = max(keep["end"], other["end"])
            clusters.remove(other)
        keep["rows"].append(i)
        keep["services"].add(ep["service"])
        keep["end"] = max(keep["end"], ep["end"])
    groups = [eps.loc[sorted(c["rows"])] for c in clusters]
    return [g for g in groups if _is_incident(g, params)]


def _is_incident(group: pd.DataFrame, params: CorrelationParams) -> bool:
    if group["points"].sum() < params.min_points or len(group) < params.min_series:
        return False
    lasting = group["end"].max() - group["start"].min() >= params.min_single_service_duration
    return group["service"].nunique() > 1 or lasting


def rank_root_causes(group: pd.DataFrame, topology: Topology) -> list[dict]:
    """Candidates with their evidence, most likely first."""
    affected = set(group["service"])
    rows = []
    for service, eps in group.groupby("service", sort=True):
        deps = sorted(topology.descendants(service) & affected)
        first = eps.loc[eps["start"].idxmin()]
        rows.append({
            "service": service,
            "affected_dependencies": deps,
            "first_anomaly": first["start"].isoformat(),
            "first_signal": str(first["signal"]),
            "points": int(eps["points"].sum()),
            "signals": sorted(set(eps["signal"].astype(str))),
        })
    total = sum(r["points"] for r in rows)
    # Significant candidates first, so a one-point blip deep in the graph cannot outrank the real root.
    rows.sort(key=lambda r: (r["points"] < 0.1 * total, bool(r["affected_dependencies"]), r["first_anomaly"], -r["points"], r["service"]))
    return rows


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
        return rule["name"], rule["action"].format(service=candidate["service"])
    return "none", f"Investigate {candidate['service']}."


def load_runbooks(path: Path) -> list[dict]:
    rules = json.loads(Path(path).read_text()).get("rules")
    if not isinstance(rules, list) or not all(isinstance(r, dict) and "name" in r and "action" in r for r in rules):
        raise ValueError(f"{path}: expected {{'rules': [{{'name', 'action', ...}}]}}")
    return rules


def build_incidents(events: pd.DataFrame, topology: Topology, rules: list[dict], params: CorrelationParams = CorrelationParams()) -> pd.DataFrame:
    """One row per incident: window, severity, ranked root causes with evidence, suggested action."""
    rows = []
    for group in correlate(events, topology, params):
        candidates = rank_root_causes(group, topology)
        root = candidates[0]
        runbook, action = suggest_action(root, rules, set(group["signal"].astype(str)))
        start, end = group["start"].min(), group["end"].max()
        services = sorted(set(group["service"]))
        # The id depends only on how the incident began, so it survives being extended by the next day.
        first = group.sort_values(["start", "service", "signal", "host"]).iloc[0]
        digest = hashlib.sha256(f"{start.isoformat()}|{first['service']}|{first['signal']}|{first['host']}".encode()).hexdigest()[:10]
        rows.append({
            "incident_id": f"INC-{start:%Y%m%d-%H%M}-{digest[:4]}",
            "start": start,
            "end": end,
            "severity": severity(len(services), end - start, root),
            "root_cause": root["service"],
            "suggested_action": action,
            "runbook": runbook,
            "affected_services": services,
            "root_cause_candidates": json.dumps(candidates),
            "signals": len(group[["service", "signal", "host"]].drop_duplicates()),
            "anomalous_points": int(group["points"].sum()),
            "episodes": len(group),
        })
    return pd.DataFrame(rows, columns=INCIDENT_COLUMNS)


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
    """Minutes with alerting log lines (critical lines, bursts while they last) as correlation events.

    log_anomalies has one row per line; a burst alerts once but every line while it lasts is
    `in_burst`, and its minutes are the evidence an incident needs. One event per minute, service
    and template (the highest score), as the detector's rows were before it scored lines.
    """
    if log_anomalies.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    hit = log_anomalies["is_anomaly"].astype(bool)
    if "in_burst" in log_anomalies:
        hit |= log_anomalies["in_burst"].astype(bool)
    flagged = log_anomalies[hit]
    if flagged.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    minutes = flagged.assign(timestamp=flagged["timestamp"].dt.floor("min"), service=flagged["service"].astype(str))
    per = minutes.groupby(["timestamp", "service", "template_id"], sort=True)["score"].max().reset_index()
    return pd.DataFrame({
        "timestamp": per["timestamp"].to_numpy(),
        "service": per["service"].to_numpy(dtype=object),
        "signal": ("logs:" + per["template_id"].astype(str)).to_numpy(),
        "host": "",
        "score": per["score"].to_numpy(dtype=np.float64),
    }, columns=EVENT_COLUMNS)


def all_events(metric_anomalies: pd.DataFrame, log_anomalies: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (metric_events(metric_anomalies), log_events(log_anomalies)) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EVENT_COLUMNS)
