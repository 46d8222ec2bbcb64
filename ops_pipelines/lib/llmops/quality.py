"""Daily LLM quality per app, model and prompt version (the body of `llm_quality_daily`)."""

from __future__ import annotations

import pandas as pd

GROUP = ["app", "model", "prompt_version"]


def quality_daily(scores: pd.DataFrame) -> pd.DataFrame:
    """Rates (hallucination, toxicity, rudeness, PII, refusal, errors), latency p50/p95/p99, tokens and cost."""
    if scores.empty:
        return pd.DataFrame(columns=[*GROUP, "responses"])
    ok = scores["status"].eq("ok")
    frame = scores.assign(
        ok=ok,
        error=~ok,
        hallucinated=scores["hallucinated"].astype("boolean").fillna(False).astype(bool),
        toxic=scores["toxic"].astype("boolean").fillna(False).astype(bool),
        rude=scores["rude"].astype("boolean").fillna(False).astype(bool),
        pii=scores["pii_found"].astype("boolean").fillna(False).astype(bool),
        refused=scores["refusal"].astype("boolean").fillna(False).astype(bool),
        judged=scores["hallucinated"].notna(),  # a groundedness verdict exists (not: no context, empty answer)
        tokens=scores["input_tokens"].fillna(0) + scores["output_tokens"].fillna(0),
    )
    g = frame.groupby(GROUP, observed=True, sort=True)
    out = g.agg(
        responses=("trace_id", "size"), answered=("ok", "sum"), judged=("judged", "sum"), errors=("error", "sum"),
        hallucinated=("hallucinated", "sum"), toxic=("toxic", "sum"), rude=("rude", "sum"), pii=("pii", "sum"),
        refused=("refused", "sum"),
        latency_p50_ms=("latency_ms", lambda s: s.quantile(0.50)), latency_p95_ms=("latency_ms", lambda s: s.quantile(0.95)),
        latency_p99_ms=("latency_ms", lambda s: s.quantile(0.99)), tokens=("tokens", "sum"), cost_usd=("cost_usd", "sum"),
        groundedness_mean=("groundedness", "mean"),
    ).reset_index()
    answered = out["answered"].where(out["answered"] > 0)
    for name in ("hallucinated", "toxic", "rude", "pii", "refused"):
        out[f"{name}_rate"] = out[name] / answered
    out["hallucinated_rate"] = out["hallucinated"] / out["judged"].where(out["judged"] > 0)
    out["error_rate"] = out["errors"] / out["responses"]
    out["cost_per_response_usd"] = out["cost_usd"] / out["responses"]
    return out
