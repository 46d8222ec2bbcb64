"""Anomaly rollups per service, metric and hour (and day), and the alert-noise funnel."""

from __future__ import annotations

import pandas as pd

ROLLUP_COLUMNS = [
    "granularity", "period_start", "service", "metric", "points", "anomalies", "max_score", "mean_score",
    "first_anomaly", "last_anomaly",
]


def rollup(scored: pd.DataFrame) -> pd.DataFrame:
    """Per (service, metric) and hour, then day: point and anomaly counts, max/mean score,
    first and last anomalous time. DuckDB aggregates the points once, per hour; days are
    rolled up from the (small) hourly table."""
    import duckdb

    if scored.empty:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # hour and day boundaries in UTC whatever the machine's zone
    con.execute("SET enable_progress_bar = false")  # it would draw on the run's stdout
    con.register("scored", scored[["timestamp", "service", "metric", "anomaly_score", "is_anomaly"]])
    hourly = con.execute("""
        SELECT date_trunc('hour', timestamp) AS period_start, service, metric,
               count(*) AS points, count(*) FILTER (WHERE is_anomaly) AS anomalies,
               max(anomaly_score) AS max_score, sum(anomaly_score) AS score_sum,
               min(timestamp) FILTER (WHERE is_anomaly) AS first_anomaly,
               max(timestamp) FILTER (WHERE is_anomaly) AS last_anomaly
        FROM scored GROUP BY ALL
    """).df()
    con.close()
    for col in ("period_start", "first_anomaly", "last_anomaly"):
        hourly[col] = pd.to_datetime(hourly[col], utc=True)
    hourly["service"] = hourly["service"].astype(str)
    hourly["metric"] = hourly["metric"].astype(str)
    daily = hourly.assign(period_start=hourly["period_start"].dt.floor("D")).groupby(
        ["period_start", "service", "metric"], as_index=False
    ).agg(points=("points", "sum"), anomalies=("anomalies", "sum"), max_score=("max_score", "max"),
          score_sum=("score_sum", "sum"), first_anomaly=("first_anomaly", "min"), last_anomaly=("last_anomaly", "max"))
    out = pd.concat([hourly.assign(granularity="hour"), daily.assign(granularity="day")], ignore_index=True)
    # Parallel summation order changes the last bits of a mean; rounding keeps re-runs byte-identical.
    out["mean_score"] = (out["score_sum"] / out["points"]).round(9)
    out["points"] = out["points"].astype("int64")
    out["anomalies"] = out["anomalies"].astype("int64")
    out = out.sort_values(["granularity", "period_start", "service", "metric"], ascending=[False, True, True, True])
    return out[ROLLUP_COLUMNS].reset_index(drop=True)


def noise_funnel(anomalous_points: int, alerts: int, incidents: int) -> dict[str, float | int]:
    """Anomalous points -> alerts -> incidents, with the compression ratios people watch."""
    return {
        "anomalous_points": anomalous_points,
        "alerts": alerts,
        "incidents": incidents,
        "compression": 1.0 - incidents / anomalous_points if anomalous_points else 0.0,
        "alert_compression": 1.0 - incidents / alerts if alerts else 0.0,
    }
