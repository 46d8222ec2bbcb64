"""Incident-risk features: step means, previous-hour baselines and forward-looking labels, by hand."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import model_spec
from ops_pipelines.lib.mlops.telemetry_features import (
    BASELINE_MIN_STEPS,
    COLUMNS,
    RATIO_FLOOR,
    incident_risk_features,
)

DAY = pd.Timestamp("2026-03-02T00:00:00Z")


def at(clock: str, day: pd.Timestamp = DAY) -> pd.Timestamp:
    """'HH:MM' on `day`; '-HH:MM' before it."""
    sign = -1 if clock.startswith("-") else 1
    h, m = clock.lstrip("-").split(":")
    return day + sign * pd.Timedelta(hours=int(h), minutes=int(m))


def series(service: str, metric: str, host: str, start: str, end: str, value: float) -> pd.DataFrame:
    """One sample per minute in [start, end)."""
    ts = pd.date_range(at(start), at(end), freq="min", inclusive="left")
    return pd.DataFrame({"timestamp": ts, "service": service, "metric": metric, "host": host, "value": float(value)})


def put(frame: pd.DataFrame, service: str, metric: str, host: str, start: str, end: str, value: float) -> None:
    hit = ((frame["service"] == service) & (frame["metric"] == metric) & (frame["host"] == host)
           & (frame["timestamp"] >= at(start)) & (frame["timestamp"] < at(end)))
    assert hit.any()
    frame.loc[hit, "value"] = value


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    """Service a from an hour before the day, service b from midnight; a few hand-placed bumps."""
    frame = pd.concat([
        series("a", "cpu_utilization", "h1", "-01:05", "02:00", 0.2),
        series("a", "cpu_utilization", "h2", "-01:05", "02:00", 0.4),
        series("a", "memory_utilization", "h1", "-01:05", "02:00", 0.5),
        series("a", "memory_utilization", "h2", "-01:05", "02:00", 0.7),
        series("a", "latency_p95_ms", "", "-01:05", "02:00", 100.0),
        series("a", "latency_p50_ms", "", "-01:05", "02:00", 40.0),  # not a feature: ignored
        series("a", "error_rate", "", "-01:05", "02:00", 0.0),
        series("a", "request_rate", "", "-01:05", "02:00", 50.0),
        series("b", "cpu_utilization", "b1", "00:00", "02:00", 0.3),
    ], ignore_index=True)
    put(frame, "a", "cpu_utilization", "h1", "00:10", "00:15", 0.6)  # step ending 00:15: (0.6 + 0.4) / 2
    put(frame, "a", "latency_p95_ms", "", "00:12", "00:13", 400.0)  # step ending 00:15: (4 * 100 + 400) / 5
    put(frame, "a", "error_rate", "", "00:25", "00:30", 0.01)  # step ending 00:30
    return frame


@pytest.fixture(scope="module")
def features(metrics) -> pd.DataFrame:
    return incident_risk_features(metrics, None, DAY)


def row(frame: pd.DataFrame, service: str, clock: str) -> pd.Series:
    found = frame[(frame["service"] == service) & (frame["timestamp"] == at(clock))]
    assert len(found) == 1
    return found.iloc[0]


def test_shape_order_and_columns_match_the_model_config(features):
    spec = model_spec("incident_risk")
    assert list(features.columns) == list(COLUMNS)
    # every model input and drift column is produced; `service` identifies the row (not a feature)
    assert {spec.time_column, *spec.features, spec.target, *spec.drift_columns} <= set(COLUMNS)
    assert "service" in COLUMNS and "service" not in spec.features
    assert len(features) == 2 * 288
    assert features["timestamp"].min() == DAY and features["timestamp"].max() == at("23:55")
    assert features[["timestamp", "service"]].equals(features.sort_values(["timestamp", "service"])[["timestamp", "service"]])
    assert str(features["timestamp"].dt.tz) == "UTC" and features["incident_within_30m"].dtype == np.int8
    assert (features["incident_within_30m"] == 0).all()  # no incidents given


def test_step_means_over_hosts_and_minutes(features):
    bump = row(features, "a", "00:15")
    assert bump["cpu_utilization"] == pytest.approx(0.5)
    assert bump["latency_p95_ms"] == pytest.approx(160.0)
    assert bump["memory_utilization"] == pytest.approx(0.6)
    assert bump["request_rate"] == pytest.approx(50.0)
    assert row(features, "a", "00:10")["cpu_utilization"] == pytest.approx(0.3)  # minutes 00:05-00:09


def test_change_and_ratios_against_the_previous_hour(features):
    bump = row(features, "a", "00:15")
    assert bump["cpu_change"] == pytest.approx(0.5 - 0.3)
    assert bump["latency_ratio"] == pytest.approx(160.0 / 100.0)
    after = row(features, "a", "00:20")
    assert after["cpu_change"] == pytest.approx(0.3 - (11 * 0.3 + 0.5) / 12)  # the bump is now history
    assert after["latency_ratio"] == pytest.approx(1.0)  # median of 11 x 100 and 160


def test_zero_baselines_give_finite_ratios(features):
    assert row(features, "a", "00:25")["error_ratio"] == 0.0
    spike = row(features, "a", "00:30")
    assert spike["error_rate"] == pytest.approx(0.01)
    assert spike["error_ratio"] == pytest.approx(0.01 / RATIO_FLOOR["error_rate"])
    assert np.isfinite(features[["latency_ratio", "error_ratio", "cpu_change"]].dropna()).all().all()


def test_the_first_hour_uses_the_previous_days_last_hour(metrics, features):
    assert row(features, "a", "00:00")["cpu_utilization"] == pytest.approx(0.3)  # minutes 23:55-23:59
    assert row(features, "a", "00:00")["cpu_change"] == pytest.approx(0.0)
    today_only = incident_risk_features(metrics[metrics["timestamp"] >= DAY], None, DAY)
    assert np.isnan(row(today_only, "a", "00:00")["cpu_utilization"])
    assert np.isnan(row(today_only, "a", "00:05")["cpu_change"])


def test_missing_metrics_and_short_history_are_nan_not_errors(features):
    b = features[features["service"] == "b"].set_index("timestamp")
    assert b[["memory_utilization", "latency_p95_ms", "error_rate", "request_rate", "latency_ratio"]].isna().all().all()
    assert np.isnan(b.loc[at("00:00"), "cpu_utilization"])  # nothing before midnight
    assert b.loc[at("00:05"), "cpu_utilization"] == pytest.approx(0.3)
    first_baseline = at("00:05") + BASELINE_MIN_STEPS * pd.Timedelta(minutes=5)
    assert b.loc[b.index < first_baseline, "cpu_change"].isna().all()
    assert b.loc[first_baseline, "cpu_change"] == pytest.approx(0.0)
    assert b.loc[at("02:05"):, "cpu_utilization"].isna().all()  # the last sample is at 01:59


def test_features_only_use_data_before_their_timestamp(metrics, features):
    cut = at("01:00")
    changed = metrics.copy()
    changed.loc[changed["timestamp"] >= cut, "value"] *= 3.0
    again = incident_risk_features(changed, None, DAY)
    early = features["timestamp"] <= cut
    pd.testing.assert_frame_equal(features[early], again[early])
    assert not features[~early].equals(again[~early])


def test_order_and_duplicate_samples_do_not_matter(metrics, features):
    messy = pd.concat([metrics, metrics.iloc[::7]]).sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(incident_risk_features(messy, None, DAY), features)


def test_non_finite_samples_count_as_missing(metrics):
    spoiled = metrics.copy()
    put(spoiled, "a", "cpu_utilization", "h1", "00:40", "00:42", np.inf)
    put(spoiled, "a", "cpu_utilization", "h1", "00:42", "00:45", np.nan)
    out = incident_risk_features(spoiled, None, DAY)
    assert row(out, "a", "00:45")["cpu_utilization"] == pytest.approx(0.4)  # h2 alone
    assert np.isfinite(out[["cpu_utilization", "cpu_change"]].dropna()).all().all()


def test_timezones(metrics, features):
    with pytest.raises(TypeError, match="tz-aware"):
        incident_risk_features(metrics.assign(timestamp=metrics["timestamp"].dt.tz_localize(None)), None, DAY)
    with pytest.raises(TypeError, match="naive"):
        incident_risk_features(metrics, None, pd.Timestamp("2026-03-02"))
    tokyo = metrics.assign(timestamp=metrics["timestamp"].dt.tz_convert("Asia/Tokyo"))
    pd.testing.assert_frame_equal(incident_risk_features(tokyo, None, DAY.tz_convert("Asia/Tokyo")), features)


def test_empty_and_malformed_input(metrics):
    empty = incident_risk_features(metrics.iloc[:0], None, DAY)
    assert empty.empty and list(empty.columns) == list(COLUMNS)
    assert str(empty["timestamp"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ValueError, match="value"):
        incident_risk_features(metrics.drop(columns=["value"]), None, DAY)
    with pytest.raises(ValueError, match="aligned"):
        incident_risk_features(metrics, None, DAY + pd.Timedelta(minutes=2))
    with pytest.raises(ValueError, match="divide"):
        incident_risk_features(metrics, None, DAY, step_minutes=7)
    only_p50 = metrics[(metrics["service"] == "a") & (metrics["metric"] == "latency_p50_ms")]
    blank = incident_risk_features(only_p50, None, DAY)  # a known service without feature metrics
    assert len(blank) == 288 and blank[["cpu_utilization", "latency_ratio"]].isna().all().all()
    no_host = incident_risk_features(metrics[metrics["service"] == "b"].drop(columns=["host"]), None, DAY)
    assert row(no_host, "b", "00:05")["cpu_utilization"] == pytest.approx(0.3)


# --- labels --------------------------------------------------------------------------------------

def steps(first: str, last: str, day: pd.Timestamp = DAY) -> set[pd.Timestamp]:
    return set(pd.date_range(at(first, day), at(last, day), freq="5min"))


def test_labels_mark_ongoing_and_upcoming_incidents_of_the_service(metrics):
    inc = pd.DataFrame({
        "incident_id": ["X", "Y", "Z", "W", "V"],
        "start": pd.to_datetime([at("00:40"), at("23:50"), at("-01:00"), at("24:25"), at("05:00")]),
        "end": pd.to_datetime([at("00:50"), pd.NaT, at("00:05"), at("24:40"), at("06:00")]),
        "affected_services": [["a"], np.array(["b", "c"]), ["b"], ["a"], ["c"]],
    })
    out = incident_risk_features(metrics, inc, DAY)
    marked = out[out["incident_within_30m"] == 1]
    a = set(marked.loc[marked["service"] == "a", "timestamp"])
    b = set(marked.loc[marked["service"] == "b", "timestamp"])
    # X: t in [00:40 - 30 min, 00:50]; W starts 00:25 the next day, 30 minutes after 23:55
    assert a == steps("00:10", "00:50") | {at("23:55")}
    # Z: still going at 00:00 and 00:05; Y: from 30 minutes before its start to the end of the day
    assert b == steps("00:00", "00:05") | steps("23:20", "23:55")


def test_labels_agree_with_a_plain_loop_on_random_incidents(metrics):
    rng = np.random.default_rng(42)
    n = 40
    start = DAY + pd.to_timedelta(rng.integers(-180, 1500, n), unit="min") + pd.to_timedelta(rng.integers(0, 60, n), unit="s")
    end = start + pd.to_timedelta(rng.integers(0, 120, n), unit="min")
    inc = pd.DataFrame({"incident_id": [f"I{i}" for i in range(n)], "start": start, "end": end,
                        "affected_services": [list(rng.choice(["a", "b", "c"], rng.integers(1, 3), replace=False)) for _ in range(n)]})
    out = incident_risk_features(metrics, inc, DAY, horizon_minutes=30)
    horizon = pd.Timedelta(minutes=30)
    expected = [
        int(any(svc in aff and (s <= t <= e or t < s <= t + horizon)
                for s, e, aff in zip(inc["start"], inc["end"], inc["affected_services"])))
        for t, svc in zip(out["timestamp"], out["service"])
    ]
    assert out["incident_within_30m"].tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_incidents_without_a_start_or_with_naive_times_are_errors(metrics):
    bad = pd.DataFrame({"incident_id": ["X"], "start": pd.to_datetime([None], utc=True),
                        "end": pd.to_datetime([at("01:00")]), "affected_services": [["a"]]})
    with pytest.raises(ValueError, match="without a start"):
        incident_risk_features(metrics, bad, DAY)
    naive = bad.assign(start=pd.to_datetime(["2026-03-02 00:30"]), end=pd.to_datetime(["2026-03-02 01:00"]))
    with pytest.raises(TypeError, match="tz-aware"):
        incident_risk_features(metrics, naive, DAY)
