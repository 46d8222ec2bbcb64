"""Guardrails on daily LLM quality, and the promotion decision for candidate prompt versions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Guardrails:
    roles: dict[str, str]  # prompt version -> "production" | "candidate"
    limits: dict[str, float]  # column of llm_quality_daily -> maximum allowed
    daily_budget_usd: float
    min_responses: int

    @classmethod
    def load(cls, path: Path) -> Guardrails:
        doc = json.loads(Path(path).read_text())
        try:
            return cls(dict(doc["prompt_versions"]), {k: float(v) for k, v in doc["limits"].items()},
                       float(doc["daily_budget_usd"]), int(doc.get("min_responses", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid guardrails ({exc})") from None


def wilson_lower(rate: float, n: int, z: float = 1.645) -> float:
    """One-sided 95% lower bound of a binomial rate (Wilson score interval)."""
    if n <= 0:
        return 0.0
    centre = rate + z * z / (2 * n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def breaches(quality: pd.DataFrame, rails: Guardrails, role: str) -> list[str]:
    """Every limit a prompt version with `role` breaches, per app and model, as readable lines.

    A rate breaches only when it is above its limit with 95% confidence (its Wilson lower bound
    is above the limit): a day of a few hundred answers is a sample, and a guardrail that fires on
    sampling noise stops being read."""
    found = []
    for row in quality.itertuples(index=False):
        if rails.roles.get(str(row.prompt_version)) != role or row.answered < rails.min_responses:
            continue
        for column, limit in rails.limits.items():
            value = getattr(row, column)
            if pd.isna(value):
                continue
            judged = wilson_lower(float(value), int(row.answered)) if column.endswith("_rate") else float(value)
            if judged > limit:
                found.append(f"{row.prompt_version} on {row.model}: {column} {value:.4f} > {limit} (judged {judged:.4f})")
    return found


def spend(quality: pd.DataFrame) -> float:
    return float(quality["cost_usd"].sum()) if len(quality) else 0.0


# A candidate may cost more or refuse a little more often (reported, and capped by the cost limit),
# but it must not be significantly worse on these.
MUST_NOT_WORSEN = ("toxicity_rate", "pii_rate", "groundedness", "relevance")


def promotion_decisions(comparison: pd.DataFrame, rails: Guardrails, breached: list[str] | None = None) -> pd.DataFrame:
    """Promote a candidate only when it is within its guardrails (`breached` lists the day's
    candidate breaches, as `breaches()` words them), beats the production version on hallucination
    rate with a CI excluding zero and is not significantly worse on MUST_NOT_WORSEN; otherwise
    block or hold, with why."""
    rows = []
    production = {v for v, r in rails.roles.items() if r == "production"}
    for candidate in sorted(v for v, r in rails.roles.items() if r == "candidate"):
        mine = [b for b in breached or [] if b.startswith(f"{candidate} on ")]
        if mine:
            rows.append({"prompt_version": candidate, "decision": "blocked", "reason": "guardrail breach: " + "; ".join(mine)})
            continue
        pairs = comparison[(comparison["version_a"].isin(production) & (comparison["version_b"] == candidate))
                           | (comparison["version_b"].isin(production) & (comparison["version_a"] == candidate))]
        if pairs.empty:
            rows.append({"prompt_version": candidate, "decision": "hold", "reason": "no comparable traffic with production yet"})
            continue
        hall = pairs[pairs["metric"] == "hallucination_rate"]
        worse = pairs[pairs["metric"].isin(MUST_NOT_WORSEN) & pairs["better"].notna() & (pairs["better"] != candidate)]
        if worse.shape[0]:
            reason = "worse on " + ", ".join(sorted(worse["metric"]))
            rows.append({"prompt_version": candidate, "decision": "hold", "reason": reason})
        elif (hall["better"] == candidate).any():
            rows.append({"prompt_version": candidate, "decision": "promote", "reason": hall.iloc[0]["verdict"]})
        else:
            rows.append({"prompt_version": candidate, "decision": "hold", "reason": "hallucination rate: " + hall.iloc[0]["verdict"] if len(hall) else "no hallucination comparison"})
    return pd.DataFrame(rows, columns=["prompt_version", "decision", "reason"])
