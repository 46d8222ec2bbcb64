"""Drift of LLM traffic: one day's prompts and answers against the days before it, per app and prompt version.

Per trace: the descriptors of traffic.py (lengths, language, question type, refusal, PII, OOV share)
and a topic (topics.py). Per (app, prompt version): every descriptor and the topic mix are compared
with Evidently's column rules (lib/mlops/drift.py: Wasserstein or Jensen-Shannon distance >= 0.1
above 1000 reference rows, p-value tests below). The group is drifted when its topic mix drifted,
or when at least half of its descriptors did (Evidently's dataset rule). A topic that grew
(topics.emerging_topics) is named by its top terms.

Causal: the reference is the `reference_days` days before the day (what the window holds of them),
never the day itself or later; the same input and seed give the same output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.topics import (
    DEFAULT_TOPICS,
    TERMS_PER_TOPIC,
    emerging_topics,
    fit_topics,
    new_topic_labels,
    new_topics,
)
from ops_pipelines.lib.llmops.traffic import CATEGORICAL, NUMERIC, descriptors, oov_shares
from ops_pipelines.lib.mlops.drift import compute_drift

REFERENCE_DAYS = 7
MIN_ROWS = 50  # per side and group: fewer rows make every test noise
# A day or two is not "normal" yet (one reference day also leaves no day to hold out for the OOV
# shares): before three reference days a group gets a note, not a verdict.
MIN_REFERENCE_DAYS = 3
GROUP = ["app", "prompt_version"]
OOV = ("question_oov", "answer_oov")
COMPARED = [*NUMERIC, *CATEGORICAL]
COLUMNS = ["day", "app", "prompt_version", "current_rows", "reference_rows", "reference_days", "drifted",
           "topic_drifted", "topic_score", "topic_method", "descriptor_drift_share", "drifted_descriptors", "scores",
           "emerging_topics", "new_topic", "refusal_rate", "reference_refusal_rate", "question_pii_rate",
           "answer_pii_rate", "question_oov", "reference_question_oov", "answer_oov", "reference_answer_oov",
           "languages", "note"]


@dataclass(frozen=True)
class TrafficDrift:
    """`table`: one row per (app, prompt version) seen on the day (COLUMNS). `rows`: every trace of the
    window with its side (`reference` / `current`), group, texts, descriptors and topic (for the report)."""

    table: pd.DataFrame
    rows: pd.DataFrame


def split_window(traces: pd.DataFrame, day: str, reference_days: int = REFERENCE_DAYS) -> pd.DataFrame:
    """The traces of the day and of the `reference_days` days before it, with `side` and `day` columns."""
    start = pd.Timestamp(day, tz="UTC")
    ts = pd.to_datetime(traces["timestamp"], utc=True, errors="coerce")
    keep = (ts >= start - pd.Timedelta(days=reference_days)) & (ts < start + pd.Timedelta(days=1))
    out = traces.loc[keep].copy()
    out["day"] = ts[keep].dt.strftime("%Y-%m-%d")
    out["side"] = np.where(ts[keep] >= start, "current", "reference")
    for col in GROUP:
        out[col] = out[col].astype(object).where(out[col].notna(), "unknown").astype(str) if col in out else "unknown"
    return out.sort_values(["side", "timestamp", "trace_id"] if "trace_id" in out else ["side", "timestamp"],
                           kind="stable").reset_index(drop=True)


def describe_window(window: pd.DataFrame, k: int = DEFAULT_TOPICS, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Descriptors, OOV shares (per group's reference vocabulary) and topics of every trace of the window."""
    frame = window.reset_index(drop=True)
    for col in ("question", "answer"):
        if col not in frame:
            frame[col] = None
    desc = descriptors(frame["question"].tolist(), frame["answer"].tolist())
    rows = pd.concat([frame[["side", "day", *GROUP, "question", "answer"]], desc], axis=1)
    rows["question_oov"] = np.nan
    rows["answer_oov"] = np.nan
    for _, group in rows.groupby(GROUP, sort=True):
        ref, cur = group[group["side"] == "reference"], group[group["side"] == "current"]
        for col, text in (("question_oov", "question"), ("answer_oov", "answer")):
            r, c = oov_shares(ref[text].tolist(), ref["day"].tolist(), cur[text].tolist())
            rows.loc[ref.index, col] = r
            rows.loc[cur.index, col] = c
    fit = fit_topics(rows["question"].tolist(), k=k, seed=seed)
    rows["topic"] = fit.labels
    terms = dict(fit.terms)
    for _, group in rows.groupby(GROUP, sort=True):
        ref, cur = group[group["side"] == "reference"], group[group["side"] == "current"]
        found = new_topics(ref["question"].tolist(), cur["question"].tolist())
        if found:
            labels = pd.Series(new_topic_labels(group["question"].tolist(), found), index=group.index)
            rows.loc[labels.dropna().index, "topic"] = labels.dropna()
            terms.update({"new " + " ".join(t[:TERMS_PER_TOPIC]): t for t in found})
    return rows, terms


def _rate(values: pd.Series) -> float:
    present = values.dropna()
    return float(present.astype(bool).mean()) if len(present) else float("nan")


def _mean(values: pd.Series) -> float:
    present = pd.to_numeric(values, errors="coerce").dropna()
    return float(present.mean()) if len(present) else float("nan")


def group_drift(day: str, key: tuple[str, str], ref: pd.DataFrame, cur: pd.DataFrame, terms: dict) -> dict:
    """One table row: the verdicts and the numbers people plot for one (app, prompt version)."""
    languages = cur["question_language"].value_counts(normalize=True).round(4)
    row = dict(zip(COLUMNS, [day, key[0], key[1], len(cur), len(ref), int(ref["day"].nunique())]))
    row.update({
        "drifted": False, "topic_drifted": False, "topic_score": np.nan, "topic_method": None,
        "descriptor_drift_share": np.nan, "drifted_descriptors": "[]", "scores": "{}", "emerging_topics": "[]",
        "new_topic": "", "refusal_rate": _rate(cur["refusal"]), "reference_refusal_rate": _rate(ref["refusal"]),
        "question_pii_rate": _rate(cur["question_pii"]), "answer_pii_rate": _rate(cur["answer_pii"]),
        "question_oov": _mean(cur["question_oov"]), "reference_question_oov": _mean(ref["question_oov"]),
        "answer_oov": _mean(cur["answer_oov"]), "reference_answer_oov": _mean(ref["answer_oov"]),
        "languages": json.dumps({str(k): float(v) for k, v in languages.items()}, sort_keys=True), "note": "",
    })
    if len(ref) < MIN_ROWS or len(cur) < MIN_ROWS:
        row["note"] = f"too little traffic to compare ({len(ref)} reference, {len(cur)} current rows; need {MIN_ROWS} each)"
        return row
    if row["reference_days"] < MIN_REFERENCE_DAYS:
        row["note"] = f"reference window too short ({row['reference_days']} day(s); need {MIN_REFERENCE_DAYS})"
        return row
    drift = compute_drift(ref[[*COMPARED, "topic"]], cur[[*COMPARED, "topic"]], [*COMPARED, "topic"],
                          categorical=[*CATEGORICAL, "topic"])
    topic = drift.columns.get("topic")
    described = {n: c for n, c in drift.columns.items() if n != "topic"}
    # Fewer unseen words than usual is no news: an OOV column counts as drifted only when its share rose.
    drifted = sorted(n for n, c in described.items() if c.drifted and not (n in OOV and _mean(cur[n]) <= _mean(ref[n])))
    share = len(drifted) / len(described) if described else 0.0
    emerging = emerging_topics(ref["topic"], cur["topic"], terms)
    topic_drifted = bool(topic is not None and topic.drifted)
    row.update({
        "drifted": topic_drifted or share >= drift.share_threshold,
        "topic_drifted": topic_drifted,
        "topic_score": float(topic.score) if topic is not None else np.nan,
        "topic_method": topic.method if topic is not None else None,
        "descriptor_drift_share": float(share),
        "drifted_descriptors": json.dumps(drifted),
        "scores": json.dumps(drift.to_dict()["columns"], sort_keys=True),
        "emerging_topics": json.dumps(emerging),
        "new_topic": " ".join(emerging[0]["terms"][:TERMS_PER_TOPIC]) if emerging and topic_drifted else "",
    })
    return row


def traffic_drift(traces: pd.DataFrame, day: str, reference_days: int = REFERENCE_DAYS, k: int = DEFAULT_TOPICS,
                  seed: int = 0) -> TrafficDrift:
    """Compare the day's traces with the `reference_days` days before it, per app and prompt version
    (groups seen on the day; a group without reference traffic gets a note, not a verdict)."""
    window = split_window(traces, day, reference_days)
    if not (window["side"] == "current").any():
        return TrafficDrift(pd.DataFrame(columns=COLUMNS), window)
    rows, terms = describe_window(window, k=k, seed=seed)
    out = []
    for key, cur in rows[rows["side"] == "current"].groupby(GROUP, sort=True):
        ref = rows[(rows["side"] == "reference") & (rows["app"] == key[0]) & (rows["prompt_version"] == key[1])]
        out.append(group_drift(day, key, ref, cur, terms))
    return TrafficDrift(pd.DataFrame(out, columns=COLUMNS), rows)
