"""LLM KPIs as telemetry: per app and model, 10-minute series the AIOps detector watches like CPU."""

from __future__ import annotations

import pandas as pd

BUCKET = "30min"  # ~15-40 traces per bucket and model; single-bucket blips are suppressed as alerts
KPI_COLUMNS = ["timestamp", "service", "metric", "host", "value"]


def kpi_series(scores: pd.DataFrame, bucket: str = BUCKET) -> pd.DataFrame:
    """Long-format metric rows (service = app, host = model): mean latency, error rate, cost per
    response and mean groundedness of answered traces, one point per bucket with traffic."""
    if scores.empty:
        return pd.DataFrame(columns=KPI_COLUMNS)
    frame = scores.assign(
        bucket=scores["timestamp"].dt.floor(bucket),
        error=scores["status"].ne("ok").astype(float),
        grounded=pd.to_numeric(scores["groundedness"], errors="coerce"),
    )
    g = frame.groupby(["bucket", "app", "model"], observed=True, sort=True)
    wide = g.agg(
        llm_latency_mean_ms=("latency_ms", "mean"),
        llm_error_rate=("error", "mean"),
        llm_cost_per_response_usd=("cost_usd", "mean"),
        llm_groundedness=("grounded", "mean"),
    ).reset_index()
    long = wide.melt(id_vars=["bucket", "app", "model"], var_name="metric", value_name="value").dropna(subset=["value"])
    out = long.rename(columns={"bucket": "timestamp", "app": "service", "model": "host"})[KPI_COLUMNS]
    for col in ("service", "metric", "host"):
        out[col] = out[col].astype(str).astype("category")
    return out.sort_values(["service", "metric", "host", "timestamp"], kind="stable").reset_index(drop=True)
