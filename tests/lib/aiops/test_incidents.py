"""Correlation: episodes join into incidents along the topology; root cause and action; scoring."""

import json

import pandas as pd

from ops_pipelines.lib.aiops.evaluate import score_incidents
from ops_pipelines.lib.aiops.incidents import build_incidents, episodes, load_runbooks, log_events
from ops_pipelines.lib.aiops.rollups import rollup
from ops_pipelines.lib.aiops.topology import Topology
from ops_pipelines.settings import ASSETS_DIR

TOPOLOGY = Topology((("frontend", "api"), ("api", "orders"), ("orders", "db"), ("api", "search"), ("batch", "warehouse")))
RULES = load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json")


def burst(service, signal, start, minutes, host=""):
    t = pd.date_range(start, periods=minutes, freq="min", tz="UTC")
    return pd.DataFrame({"timestamp": t, "service": service, "signal": signal, "host": host, "score": 0.9})


def test_a_fault_in_the_database_propagating_to_callers_is_one_incident_rooted_at_the_database():
    events = pd.concat([
        burst("db", "error_rate", "2026-03-02 10:00", 20),
        burst("orders", "error_rate", "2026-03-02 10:02", 18),
        burst("api", "latency_p95_ms", "2026-03-02 10:03", 15),
        burst("frontend", "latency_p95_ms", "2026-03-02 10:04", 10),
    ])
    found = build_incidents(events, TOPOLOGY, RULES)
    assert len(found) == 1
    inc = found.iloc[0]
    assert inc["root_cause"] == "db"
    assert inc["affected_services"] == ["api", "db", "frontend", "orders"]
    candidates = json.loads(inc["root_cause_candidates"])
    assert [c["service"] for c in candidates][:2] == ["db", "orders"]
    assert candidates[1]["affected_dependencies"] == ["db"]
    assert inc["runbook"] == "error_burst" and "db" in inc["suggested_action"]
    assert inc["severity"] == "critical"


def test_unconnected_services_and_distant_times_make_separate_incidents():
    events = pd.concat([
        burst("db", "latency_p95_ms", "2026-03-02 10:00", 10), burst("orders", "latency_p95_ms", "2026-03-02 10:01", 8),
        burst("warehouse", "error_rate", "2026-03-02 10:02", 10), burst("batch", "error_rate", "2026-03-02 10:03", 8),
        burst("db", "latency_p95_ms", "2026-03-02 14:00", 10), burst("orders", "latency_p95_ms", "2026-03-02 14:01", 9),
    ])
    found = build_incidents(events, TOPOLOGY, RULES)
    assert sorted(found["root_cause"]) == ["db", "db", "warehouse"]


def test_short_single_service_blips_are_noise_not_incidents():
    events = pd.concat([burst("search", "latency_p95_ms", "2026-03-02 09:00", 3), burst("search", "cpu_utilization", "2026-03-02 09:00", 3, "s-1")])
    assert build_incidents(events, TOPOLOGY, RULES).empty
    lasting = pd.concat([burst("search", "latency_p95_ms", "2026-03-02 09:00", 12), burst("search", "cpu_utilization", "2026-03-02 09:00", 12, "s-1")])
    assert len(build_incidents(lasting, TOPOLOGY, RULES)) == 1


def test_an_incident_across_midnight_keeps_its_id_when_the_next_day_extends_it():
    first_day = pd.concat([burst("db", "error_rate", "2026-03-02 23:40", 20), burst("orders", "error_rate", "2026-03-02 23:42", 18)])
    both_days = pd.concat([burst("db", "error_rate", "2026-03-02 23:40", 50), burst("orders", "error_rate", "2026-03-02 23:42", 45)])
    a, b = build_incidents(first_day, TOPOLOGY, RULES), build_incidents(both_days, TOPOLOGY, RULES)
    assert len(a) == len(b) == 1
    assert a.iloc[0]["incident_id"] == b.iloc[0]["incident_id"]
    assert b.iloc[0]["end"] > pd.Timestamp("2026-03-03T00:00Z") > a.iloc[0]["end"]


def test_log_lines_become_one_event_per_minute_service_and_template():
    t = pd.Timestamp("2026-03-02 10:00:05", tz="UTC")
    lines = pd.DataFrame({
        "timestamp": [t, t + pd.Timedelta(seconds=20), t + pd.Timedelta(seconds=40), t + pd.Timedelta(minutes=1),
                      t + pd.Timedelta(minutes=1), t + pd.Timedelta(minutes=2)],
        "service": ["db", "db", "db", "db", "api", "db"],
        "template_id": [7, 7, 7, 7, 7, 8],
        "score": [0.9, 0.7, 0.8, 0.6, 1.0, 0.2],
        "is_anomaly": [True, False, False, False, True, False],
        "in_burst": [True, True, True, True, False, False],  # the burst's lines are evidence; line 6 is not
    })
    events = log_events(lines)
    assert events[["service", "signal"]].values.tolist() == [["db", "logs:7"], ["api", "logs:7"], ["db", "logs:7"]]
    minute = t.floor("min")
    assert events["timestamp"].tolist() == [minute, minute + pd.Timedelta(minutes=1), minute + pd.Timedelta(minutes=1)]
    assert events["score"].tolist() == [0.9, 1.0, 0.6]  # the minute's highest score
    assert log_events(lines.iloc[5:]).empty and log_events(lines.iloc[:0]).empty


def test_episodes_split_on_gaps():
    events = pd.concat([burst("db", "error_rate", "2026-03-02 10:00", 3), burst("db", "error_rate", "2026-03-02 10:20", 2)])
    eps = episodes(events, pd.Timedelta(minutes=5))
    assert eps["points"].tolist() == [3, 2]


def test_runbook_rules_match_in_order():
    llm = pd.concat([burst("llm-gateway", "latency_p50_ms", "2026-03-02 10:00", 15), burst("support-assistant", "latency_p95_ms", "2026-03-02 10:01", 15)])
    topo = Topology((("support-assistant", "llm-gateway"),))
    assert build_incidents(llm, topo, RULES).iloc[0]["runbook"] == "llm_provider_degradation"


def test_rollup_counts_match_a_plain_count():
    t = pd.date_range("2026-03-02 09:50", periods=30, freq="min", tz="UTC")
    scored = pd.DataFrame({"timestamp": t, "service": "api", "metric": "rps", "host": "", "anomaly_score": [i / 30 for i in range(30)]})
    scored["is_anomaly"] = scored["anomaly_score"] >= 0.5
    hourly = rollup(scored).query("granularity == 'hour'").set_index("period_start")
    for hour, group in ((pd.Timestamp("2026-03-02 09:00Z"), scored.iloc[:10]), (pd.Timestamp("2026-03-02 10:00Z"), scored.iloc[10:])):
        row = hourly.loc[hour]
        assert row["points"] == len(group) and row["anomalies"] == sum(group["is_anomaly"])
        assert row["max_score"] == max(group["anomaly_score"])
    assert hourly.loc[pd.Timestamp("2026-03-02 10:00Z"), "first_anomaly"] == t[15]


def test_score_incidents_counts_matches_ranks_and_duplicates():
    truth = [
        {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:30:00Z", "root_cause_service": "db"},
        {"start": "2026-03-02T15:00:00Z", "end": "2026-03-02T15:30:00Z", "root_cause_service": "search"},
    ]
    cands = lambda *s: json.dumps([{"service": x} for x in s])
    detected = pd.DataFrame([
        {"incident_id": "a", "start": pd.Timestamp("2026-03-02T10:05Z"), "end": pd.Timestamp("2026-03-02T10:40Z"), "affected_services": ["api", "db"], "root_cause_candidates": cands("api", "db")},
        {"incident_id": "a", "start": pd.Timestamp("2026-03-02T10:05Z"), "end": pd.Timestamp("2026-03-02T10:50Z"), "affected_services": ["api", "db"], "root_cause_candidates": cands("api", "db")},
        {"incident_id": "b", "start": pd.Timestamp("2026-03-02T12:00Z"), "end": pd.Timestamp("2026-03-02T12:10Z"), "affected_services": ["db"], "root_cause_candidates": cands("db")},
    ])
    score = score_incidents(detected, truth, anomalous_points=100)
    assert (score.recall, score.precision, score.top1, score.top3) == (0.5, 0.5, 0.0, 0.5)
    assert score.compression == 1 - 2 / 100
