"""Score detected incidents against the simulator's ground truth."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pandas as pd


@dataclass
class IncidentScore:
    true_incidents: int
    detected_incidents: int
    matched_true: int
    matched_detected: int
    root_top1: int
    root_top3: int
    anomalous_points: int

    @property
    def recall(self) -> float:
        return self.matched_true / self.true_incidents if self.true_incidents else 1.0

    @property
    def precision(self) -> float:
        return self.matched_detected / self.detected_incidents if self.detected_incidents else 1.0

    @property
    def top1(self) -> float:
        return self.root_top1 / self.true_incidents if self.true_incidents else 1.0

    @property
    def top3(self) -> float:
        return self.root_top3 / self.true_incidents if self.true_incidents else 1.0

    @property
    def compression(self) -> float:
        return 1.0 - self.detected_incidents / self.anomalous_points if self.anomalous_points else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "recall": self.recall, "precision": self.precision, "top1": self.top1,
                "top3": self.top3, "compression": self.compression}


def score_incidents(detected: pd.DataFrame, truth: list[dict], anomalous_points: int) -> IncidentScore:
    """A detection matches a true incident when their windows overlap and it includes the true
    root-cause service; root-cause accuracy is the rank of that service among the candidates
    (best over the matching detections), counted over all true incidents."""
    detected = detected.drop_duplicates("incident_id", keep="last")  # an incident reported on two days
    matched_ids: set[str] = set()
    matched_true = top1 = top3 = 0
    for t in truth:
        start, end, root = pd.Timestamp(t["start"]), pd.Timestamp(t["end"]), t["root_cause_service"]
        hits = detected[(detected["start"] <= end) & (detected["end"] >= start)
                        & detected["affected_services"].map(lambda services, root=root: root in list(services))]
        if hits.empty:
            continue
        matched_true += 1
        matched_ids |= set(hits["incident_id"])
        ranks = [[c["service"] for c in json.loads(cands)].index(root) + 1 for cands in hits["root_cause_candidates"]]
        top1 += min(ranks) == 1
        top3 += min(ranks) <= 3
    return IncidentScore(len(truth), len(detected), matched_true, len(matched_ids), top1, top3, anomalous_points)


FALSE_CAUSES = ("warm_up", "surge", "job", "deploy", "config", "near_incident", "other")


def false_incident_causes(detected: pd.DataFrame, truth: list[dict], world: dict,
                          warm_up: pd.Timedelta = pd.Timedelta(days=2)) -> list[str]:
    """For each detection that matches no true incident, the simulated phenomenon that best explains it
    (ground truth `world.json`: start, new_services, surges, jobs, changes), in the order of FALSE_CAUSES.

    For the benchmark's table only: the incident logic never sees any of this.
    """
    detected = detected.drop_duplicates("incident_id", keep="last")
    matched = set()
    for t in truth:
        start, end, root = pd.Timestamp(t["start"]), pd.Timestamp(t["end"]), t["root_cause_service"]
        hits = detected[(detected["start"] <= end) & (detected["end"] >= start)
                        & detected["affected_services"].map(lambda services, root=root: root in list(services))]
        matched |= set(hits["incident_id"])
    first = pd.Timestamp(world["start"], tz="UTC")
    new = [(s["service"], pd.Timestamp(s["since"])) for s in world.get("new_services", [])]
    pad = pd.Timedelta(minutes=30)
    causes = []
    for row in detected[~detected["incident_id"].isin(matched)].itertuples():
        services = set(row.affected_services)
        s, e = row.start, row.end

        def overlaps(a, b, margin=pad, s=s, e=e):
            return s <= pd.Timestamp(b) + margin and e >= pd.Timestamp(a) - margin

        if s < first + warm_up or any(svc in services and since <= s < since + warm_up for svc, since in new):
            causes.append("warm_up")
        elif any(overlaps(x["start"], x["end"]) for x in world.get("surges", [])):
            causes.append("surge")
        elif any(overlaps(j["start"], j["end"]) and services & set(j["services"]) for j in world.get("jobs", [])):
            causes.append("job")
        elif changed := [c for c in world.get("changes", []) if c["service"] in services
                         and pd.Timestamp(c["started"]) - pad <= s <= pd.Timestamp(c["time"]) + pd.Timedelta(hours=2)]:
            causes.append(changed[0]["kind"] if changed[0]["kind"] in FALSE_CAUSES else "deploy")
        elif any(overlaps(t["start"], t["end"], pd.Timedelta(hours=1)) for t in truth):
            causes.append("near_incident")
        else:
            causes.append("other")
    return causes
