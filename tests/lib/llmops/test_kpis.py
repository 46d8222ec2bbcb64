"""LLM KPIs as metric series: a provider slowdown is visible as a level change in one series."""

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.kpis import kpi_series


def test_kpis_per_app_model_bucket_and_a_slowdown_shows():
    t = pd.date_range("2026-03-02", periods=24 * 60, freq="min", tz="UTC")
    rng = np.random.default_rng(0)
    latency = rng.normal(800, 50, len(t))
    latency[600:660] *= 3  # a one-hour provider slowdown
    scores = pd.DataFrame({
        "timestamp": t, "app": "support", "model": np.where(np.arange(len(t)) % 2, "a", "b"),
        "status": np.where(np.arange(len(t)) % 50 == 0, "timeout", "ok"), "latency_ms": latency,
        "cost_usd": 0.001, "groundedness": 0.9,
    })
    series = kpi_series(scores, bucket="30min")
    assert set(series["metric"]) == {"llm_latency_mean_ms", "llm_error_rate", "llm_cost_per_response_usd", "llm_groundedness"}
    assert set(series["host"]) == {"a", "b"} and set(series["service"]) == {"support"}
    lat = series[(series["metric"] == "llm_latency_mean_ms") & (series["host"] == "a")].set_index("timestamp")["value"]
    assert len(lat) == 48
    assert lat[pd.Timestamp("2026-03-02T10:00Z")] > 2 * lat[pd.Timestamp("2026-03-02T08:00Z")]
    errors = series[(series["metric"] == "llm_error_rate")]["value"]
    assert errors.between(0, 1).all() and errors.max() > 0


def test_no_traces_no_series():
    assert kpi_series(pd.DataFrame(columns=["timestamp", "app", "model", "status", "latency_ms", "cost_usd", "groundedness"])).empty


def test_scoring_no_traces_gives_an_empty_frame_with_every_column():
    from ops_pipelines.lib.llmops.scores import COLUMNS, score_traces

    out = score_traces(pd.DataFrame(), {}, {})
    assert out.empty and list(out.columns) == COLUMNS
