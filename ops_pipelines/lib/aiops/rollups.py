"""Anomaly rollups per service, metric and hour (and day), and the alert-noise funnel."""

from __future__ import annotations

import pandas as pd

ROLLUP_COLUMNS = [
    "granularity", "period_start", "service", "metric", "points", "anomalies", "max_score", "mean_score",
    "first_anomaly", "last_anomaly",
]


def rollup(scored: pd.DataFrame) -> pd.DataFrame:
    """Per (service, metric) and hour, then day: point and anomaly counts, max/mean score,
    first and last anomalous time. One vectorised groupby per granularity."""
    if scored.empty:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    base = pd.DataFrame({
        "service": scored["service"].astype(str).to_numpy(),
        "metric": scored["metric"].astype(str).to_numpy(),
        "score": scored["anomaly_score"].to_numpy(),
        "anomalous_at": scored["timestamp"].where(scored["is_anomaly"]).to_numpy(),
        "is_anomaly": scored["is_anomaly"].to_numpy(),
    })
    frames = []
    for granularity, freq in (("hour", "h"), ("day", "D")):
        base["period_start"] = scored["timestamp"].dt.floor(freq).to_numpy()
        g = base.groupby(["period_start", "service", "metric"], sort=True).agg(
            points=("score", "size"), anomalies=("is_anomaly", "sum"), max_score=("score", "max"),
            mean_score=("score", "mean"), first_anomaly=("anomalous_at", "min"), last_anomaly=("anomalous_at", "max"),
        )
        frames.append(g.reset_index().assign(granularity=granularity))
    out = pd.concat(frames, ignore_index=True)[ROLLUP_COLUMNS]
    out["anomalies"] = out["anomalies"].astype("int64")
    return out


def noise_funnel(anomalous_points: int, alerts: int, incidents: int) -> dict[str, float | int]:
    """Anomalous points -> alerts -> incidents, with the compression ratios people watch."""
    return {
        "anomalous_points": anomalous_points,
        "alerts": alerts,
        "incidents": incidents,
        "compression": 1.0 - incidents / anomalous_points if anomalous_points else 0.0,
        "alert_compression": 1.0 - incidents / alerts if alerts else 0.0,
    }
