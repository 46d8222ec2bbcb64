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
                        & detected["affected_services"].map(lambda services: root in list(services))]
        if hits.empty:
            continue
        matched_true += 1
        matched_ids |= set(hits["incident_id"])
        ranks = [[c["service"] for c in json.loads(cands)].index(root) + 1 for cands in hits["root_cause_candidates"]]
        top1 += min(ranks) == 1
        top3 += min(ranks) <= 3
    return IncidentScore(len(truth), len(detected), matched_true, len(matched_ids), top1, top3, anomalous_points)
