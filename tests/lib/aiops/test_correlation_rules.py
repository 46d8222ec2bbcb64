"""Correlation rules on small synthetic platforms: faults that stay separate, blips that do not
demote a root, warm-up, changes, scheduled jobs, traffic events and detector artefacts."""

import json

import pandas as pd

from ops_pipelines.lib.aiops.changes import ChangePatterns, changes_from_logs, combine
from ops_pipelines.lib.aiops.context import IncidentContext
from ops_pipelines.lib.aiops.daily import correlate_day
from ops_pipelines.lib.aiops.explain import series_key
from ops_pipelines.lib.aiops.incidents import correlate_all, load_runbooks
from ops_pipelines.lib.aiops.topology import Topology
from ops_pipelines.settings import ASSETS_DIR
from tests.lib.aiops.synthetic import Platform

RULES = load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json")
PATTERNS = ChangePatterns.load(ASSETS_DIR / "aiops" / "change_patterns.json")


def topo(calls, kinds=None):
    return Topology(tuple(tuple(c) for c in calls), tuple(sorted((kinds or {}).items())))


def seasoned(p: Platform) -> IncidentContext:
    """A context in which every series has been known for weeks (no warm-up)."""
    old = p.times[0] - pd.Timedelta(days=30)
    keys = {series_key(s, m, "") for s, m in p.values} | {series_key(s, "logs:1", "") for s, _ in p.values}
    return IncidentContext(dict.fromkeys(keys, old), IncidentContext.empty().episodes, IncidentContext.empty().jobs)


def run(p: Platform, topology: Topology, context="seasoned", logs=None):
    changes = combine(changes_from_logs(logs, PATTERNS)) if logs is not None else None
    ctx = seasoned(p) if context == "seasoned" else context
    return correlate_all(p.event_frame(), topology, RULES, metrics=p.metrics(), changes=changes, patterns=PATTERNS,
                         context=ctx, logs=logs)


def ranked(incident) -> list[str]:
    return [c["service"] for c in json.loads(incident["root_cause_candidates"])]


def log_lines(*rows, level="INFO"):
    return pd.DataFrame([{"timestamp": pd.Timestamp(t, tz="UTC"), "service": s, "host": "", "level": level, "message": m}
                         for t, s, m in rows])


SHARED_CALLER = topo([["gw", "a"], ["gw", "b"], ["a", "db"], ["b", "cache"]], {"db": "database", "cache": "cache"})


def test_concurrent_independent_faults_whose_roots_share_a_caller_stay_separate():
    p = Platform(["gw", "a", "b", "db", "cache"])
    p.effect("a", "error_rate", "2026-03-02 10:00", 40, add=0.1).effect("gw", "error_rate", "2026-03-02 10:02", 38, add=0.03)
    p.effect("b", "latency_p95_ms", "2026-03-02 10:10", 40, mult=3).effect("gw", "latency_p95_ms", "2026-03-02 10:12", 38, mult=1.5)
    found = run(p, SHARED_CALLER).incidents
    assert sorted(found["root_cause"]) == ["a", "b"]
    # the shared caller's errors go with a, its latency with b
    assert all("gw" in s for s in found["affected_services"])


def test_a_third_party_both_callers_share_is_one_incident_rooted_at_it():
    t = topo([["gw", "a"], ["gw", "b"], ["a", "psp"], ["b", "psp"]], {"psp": "third_party"})
    p = Platform(["gw", "a", "b"])
    p.effect("a", "error_rate", "2026-03-02 10:00", 30, add=0.1).effect("b", "error_rate", "2026-03-02 10:01", 30, add=0.1)
    found = run(p, t).incidents
    assert len(found) == 1 and found.iloc[0]["root_cause"] == "psp" and "psp" in found.iloc[0]["affected_services"]
    assert found.iloc[0]["runbook"] == "third_party_outage"


def test_a_third_party_is_ranked_root_when_its_callers_errors_name_it():
    t = topo([["gw", "pay"], ["pay", "db"], ["pay", "psp"]], {"psp": "third_party", "db": "database"})
    p = Platform(["gw", "pay", "db"])
    p.effect("pay", "error_rate", "2026-03-02 10:00", 30, add=0.1).effect("gw", "error_rate", "2026-03-02 10:02", 28, add=0.03)
    assert ranked(run(p, t).incidents.iloc[0])[:2] == ["pay", "psp"]  # nothing says which: the caller first
    logs = log_lines(*[(f"2026-03-02 10:{m:02d}", "pay", "POST https://api.psp.example/authorize timed out") for m in range(5, 25)],
                     level="ERROR")
    assert ranked(run(p, t, logs=logs).incidents.iloc[0])[:2] == ["psp", "pay"]


BLIP = topo([["gw", "api"], ["api", "db"], ["api", "search"]], {"db": "database"})


def api_fault(p: Platform) -> Platform:
    # Small on purpose: a 3-point blip is over 10% of its anomalous points (the rule that used to decide).
    return p.effect("api", "error_rate", "2026-03-02 10:00", 12, add=0.1).effect("gw", "error_rate", "2026-03-02 10:02", 10, add=0.03)


def test_a_three_point_blip_on_a_callee_does_not_demote_the_root():
    for blip in ("search", "db"):
        p = api_fault(Platform(["gw", "api", "db", "search"]))
        p.effect(blip, "latency_p95_ms", "2026-03-02 10:05", 3, mult=2)
        incident = run(p, BLIP).incidents.iloc[0]
        assert ranked(incident)[0] == "api", blip


def test_a_database_that_moved_first_is_the_root_even_with_few_points():
    p = api_fault(Platform(["gw", "api", "db", "search"]))
    p.effect("db", "latency_p95_ms", "2026-03-02 09:59", 4, mult=3)
    assert run(p, BLIP).incidents.iloc[0]["root_cause"] == "db"


CHAIN = topo([["gw", "api"], ["api", "db"]], {"db": "database"})


def test_warm_up_series_do_not_open_incidents_with_moderate_moves_but_do_with_errors():
    p = Platform(["gw", "api", "db"])  # first seen today: everything is warming up
    p.effect("api", "latency_p95_ms", "2026-03-02 10:00", 20, mult=1.4).effect("gw", "latency_p95_ms", "2026-03-02 10:02", 18, mult=1.3)
    fresh = run(p, CHAIN, context=None)
    assert fresh.incidents.empty and fresh.annotations["kind"].tolist() == ["warm_up"]
    assert len(run(p, CHAIN).incidents) == 1  # the same after the warm-up
    api_fault(p)
    assert run(p, CHAIN, context=None).incidents["root_cause"].tolist() == ["api"]


def test_a_flat_episode_is_a_detector_artefact_not_an_incident():
    # e.g. a daily profile that learned yesterday's outage: flags today's normal values at that hour
    p = Platform(["gw", "api", "db"])
    for service in ("gw", "api", "db"):
        p.flag(service, "latency_p95_ms", "2026-03-02 14:00", 25)
    assert run(p, CHAIN).incidents.empty


DEPLOY = [("2026-03-02 10:00", "api", "deploy started: version 2.4.0"), ("2026-03-02 10:05", "api", "deploy finished: version 2.4.0 is live")]


def test_a_small_local_shift_after_a_deploy_is_its_impact_not_an_incident():
    p = Platform(["gw", "api", "db"])
    p.effect("api", "latency_p95_ms", "2026-03-02 10:05", 20, mult=1.25, lasting=True)
    p.effect("api", "cpu_utilization", "2026-03-02 10:06", 15, mult=1.2, lasting=True)
    assert len(run(p, CHAIN).incidents) == 1  # without the change it would be an incident
    found = run(p, CHAIN, logs=log_lines(*DEPLOY))
    assert found.incidents.empty
    assert found.annotations["kind"].tolist() == ["change_impact"] and "2.4.0" in found.annotations.iloc[0]["reason"]


def test_a_bad_deploy_is_an_incident_whose_evidence_names_the_deploy():
    p = Platform(["gw", "api", "db"])
    p.effect("api", "error_rate", "2026-03-02 10:05", 40, add=0.06).effect("gw", "error_rate", "2026-03-02 10:07", 38, add=0.02)
    earlier = ("2026-03-02 09:15", "api", "configuration changed: cache ttl_seconds 60 -> 30")  # too early to be the cause
    incident = run(p, CHAIN, logs=log_lines(earlier, *DEPLOY)).incidents.iloc[0]
    root = json.loads(incident["root_cause_candidates"])[0]
    assert root["service"] == "api" and [c["detail"] for c in root["changes"]] == ["deploy finished: version 2.4.0 is live"]
    assert incident["suggested_action"].startswith("Roll back the deploy of api at 10:00")


def nightly(days: int, logged: bool) -> tuple[Platform, pd.DataFrame | None]:
    p = Platform(["api", "db"], days=days)
    rows = []
    for d in range(days):
        day = (p.times[0] + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
        p.effect("db", "latency_p95_ms", f"{day} 02:0{d % 4}", 30, mult=2.2).effect("db", "cpu_utilization", f"{day} 02:01", 28, add=0.2)
        p.effect("api", "latency_p95_ms", f"{day} 02:03", 28, mult=1.4)
        rows += [(f"{day} 02:00", "db", "starting base backup to /mnt/backup"), (f"{day} 02:31", "db", "base backup completed: 9 MB in 3 s")]
    return p, (log_lines(*rows) if logged else None)


def test_a_nightly_job_becomes_expected_from_its_second_logged_run():
    p, logs = nightly(4, logged=True)
    found = run(p, topo([["api", "db"]], {"db": "database"}), logs=logs)
    assert found.incidents["start"].dt.day.tolist() == [2]  # the first run, with its caller hurt
    assert found.annotations["kind"].tolist() == ["scheduled_job"] * 3


def test_a_silent_nightly_job_becomes_expected_once_it_recurred_on_two_earlier_days():
    p, _ = nightly(4, logged=False)
    found = run(p, topo([["api", "db"]], {"db": "database"}))
    assert found.incidents["start"].dt.day.tolist() == [2, 3]
    assert found.annotations["kind"].tolist() == ["recurring"] * 2


SHOP = topo([["fe", "gw"], ["gw", "a"], ["gw", "b"], ["gw", "c"], ["a", "db"], ["b", "db"], ["c", "db"]], {"db": "database"})


def surge(p: Platform) -> Platform:
    for i, service in enumerate(["fe", "gw", "a", "b", "c"]):
        p.effect(service, "request_rate", f"2026-03-02 18:0{i}", 90, mult=1.45, flagged=15)
    p.effect("gw", "latency_p95_ms", "2026-03-02 18:05", 60, mult=1.2, flagged=10)
    return p.effect("db", "cpu_utilization", "2026-03-02 18:06", 60, mult=1.3, flagged=10)


def test_a_broad_traffic_rise_without_errors_is_a_traffic_event_not_an_incident():
    found = run(surge(Platform(["fe", "gw", "a", "b", "c", "db"])), SHOP)
    assert found.incidents.empty
    assert found.annotations["kind"].tolist() == ["traffic_event"]
    assert set(found.annotations.iloc[0]["services"]) >= {"fe", "gw", "a", "b", "c"}


def test_errors_during_a_traffic_event_are_still_an_incident():
    p = surge(Platform(["fe", "gw", "a", "b", "c", "db"]))
    p.effect("b", "error_rate", "2026-03-02 18:20", 30, add=0.08).effect("gw", "error_rate", "2026-03-02 18:22", 28, add=0.03)
    found = run(p, SHOP)
    assert found.incidents["root_cause"].tolist() == ["b"]


def test_day_by_day_with_the_carried_context_finds_what_one_pass_finds():
    p, logs = nightly(4, logged=True)
    p.effect("api", "error_rate", "2026-03-03 23:50", 30, add=0.1).effect("db", "latency_p95_ms", "2026-03-03 23:49", 31, mult=3)
    t = topo([["api", "db"]], {"db": "database"})
    one = run(p, t, logs=logs)
    metrics, events = p.metrics(), p.event_frame()
    changes = combine(changes_from_logs(logs, PATTERNS))
    context, incidents, notes = seasoned(p), [], []
    for day in ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]:
        lo, hi = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=1), pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
        pick = lambda f, lo=lo, hi=hi: f[(f["timestamp"] >= lo) & (f["timestamp"] < hi)]
        found, context = correlate_day(day, pick(metrics), pd.DataFrame(columns=["is_anomaly"]), pick(logs), pick(changes),
                                       t, RULES, PATTERNS, context, events=pick(events))
        incidents.append(found.incidents)
        notes.append(found.annotations)
    daily = pd.concat(incidents).drop_duplicates("incident_id", keep="last")
    assert sorted(daily["incident_id"]) == sorted(one.incidents["incident_id"])
    assert daily.set_index("incident_id")["end"].to_dict() == one.incidents.set_index("incident_id")["end"].to_dict()
    notes = pd.concat([n for n in notes if len(n)]).drop_duplicates("annotation_id")
    assert sorted(notes["annotation_id"]) == sorted(one.annotations["annotation_id"])


def test_the_context_survives_a_save_and_load_byte_for_byte(tmp_path):
    p, logs = nightly(2, logged=True)
    context = run(p, topo([["api", "db"]]), logs=logs)
    found = correlate_day("2026-03-03", p.metrics(), pd.DataFrame(columns=["is_anomaly"]), logs,
                          combine(changes_from_logs(logs, PATTERNS)), topo([["api", "db"]]), RULES, PATTERNS,
                          events=p.event_frame())[1]
    found.save(tmp_path / "a.zip")
    again = IncidentContext.load(tmp_path / "a.zip")
    again.save(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert again.first_seen == found.first_seen and len(again.jobs) == 2 and len(again.episodes) == len(found.episodes)
    assert context.incidents["start"].dt.day.tolist() == [2]


def test_latency_rising_with_the_services_own_traffic_is_load_not_a_fault():
    # an evening peak the detector has not seen on this weekday: too few services for a traffic event
    p = Platform(["gw", "api", "db"])
    p.effect("api", "request_rate", "2026-03-02 21:00", 60, mult=1.3, flagged=20)
    p.effect("api", "latency_p95_ms", "2026-03-02 21:05", 50, mult=1.25, flagged=15)
    p.effect("gw", "request_rate", "2026-03-02 21:00", 60, mult=1.3, flagged=20)
    p.effect("gw", "cpu_utilization", "2026-03-02 21:04", 50, mult=1.3, flagged=15)
    assert run(p, CHAIN).incidents.empty
    p.effect("api", "latency_p95_ms", "2026-03-02 21:30", 30, mult=3.0)  # far more than load explains ...
    p.effect("api", "error_rate", "2026-03-02 21:31", 29, add=0.05)  # ... and errors never are load
    assert run(p, CHAIN).incidents["root_cause"].tolist() == ["api"]


def test_a_node_that_never_reported_is_inferred_like_a_third_party():
    t = topo([["gw", "a"], ["gw", "b"], ["a", "maps"], ["b", "maps"]])  # no kinds in this topology file
    p = Platform(["gw", "a", "b"])
    p.effect("a", "error_rate", "2026-03-02 10:00", 30, add=0.1).effect("b", "error_rate", "2026-03-02 10:01", 30, add=0.1)
    found = run(p, t).incidents
    assert found["root_cause"].tolist() == ["maps"]
