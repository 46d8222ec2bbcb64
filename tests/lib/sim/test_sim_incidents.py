"""Every symptom an incident claims in ground truth is visible in the observable files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.sim import DEFAULT_START

FIRST = pd.Timestamp(DEFAULT_START, tz="UTC")
LAST = FIRST + pd.Timedelta(days=14)


def shifted_windows(start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The same clock window on other days of the same kind (weekday/weekend) inside the world."""
    weekend = start.weekday() >= 5
    out = []
    for k in range(-14, 15):
        s, e = start + pd.Timedelta(days=k), end + pd.Timedelta(days=k)
        if k and s >= FIRST and e <= LAST and (s.weekday() >= 5) == weekend:
            out.append((s, e))
    return out


def window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return frame[(frame["ts"] >= start) & (frame["ts"] < end)]


@pytest.fixture(scope="module")
def series(metrics14):
    return {key: g for key, g in metrics14.groupby(["service", "metric", "host"])}


@pytest.fixture(scope="module")
def warn_logs(logs14):
    return logs14[logs14["level"].isin(["WARN", "ERROR"])]


def symptoms(incidents, kind):
    for inc in incidents:
        for s in inc["symptoms"]:
            if (s["metric"] == kind) or (kind == "metrics" and s["metric"] not in ("logs", "llm_traces")):
                yield inc, s, pd.Timestamp(s["start"]), pd.Timestamp(s["end"])


def test_metric_symptoms_are_visible(incidents14, series):
    """Against the same clock window on other days, or against the hour before: lasting level shifts
    left by earlier deploys move the first reference, the daily ramp the second, never both much."""
    problems, checked = [], 0
    for inc, s, start, end in symptoms(incidents14, "metrics"):
        data = series[(s["service"], s["metric"], s.get("host", ""))]
        now = window(data, start, end)["value"]
        other_days = np.median([window(data, a, b)["value"].median() for a, b in shifted_windows(start, end)])
        before = window(data, start - pd.Timedelta(hours=1), start)["value"].median()
        assert len(now) >= 2, (inc["id"], s)
        got, base = now.median(), min(other_days, before)
        visible = got - base >= 0.01 if s["metric"] == "error_rate" else got >= 1.25 * base
        checked += 1
        if not visible:
            problems.append((inc["id"], s["service"], s["metric"], s.get("host"), round(got, 4), round(base, 4)))
    assert checked >= 40
    assert not problems


def test_log_symptoms_are_visible(incidents14, warn_logs):
    problems, checked = [], 0
    for inc, s, start, end in symptoms(incidents14, "logs"):
        lines = warn_logs[warn_logs["service"] == s["service"]]
        if s.get("host"):
            lines = lines[lines["host"] == s["host"]]
        got = len(window(lines, start, end))
        base = np.median([len(window(lines, a, b)) for a, b in shifted_windows(start, end)])
        checked += 1
        if got < 3 * base + 10:
            problems.append((inc["id"], s["service"], got, base))
    assert checked >= 9
    assert not problems


def test_llm_trace_symptoms_are_visible(incidents14, traces14):
    ok = traces14[traces14["status"] == "ok"]
    quiet = ok
    for inc in incidents14:
        quiet = quiet[(quiet["ts"] < pd.Timestamp(inc["start"])) | (quiet["ts"] >= pd.Timestamp(inc["end"]))]
    checked = 0
    for inc, s, start, end in symptoms(incidents14, "llm_traces"):
        field = s["field"]
        checked += 1
        if field == "status_timeout":
            now = window(traces14, start, end)["status"].eq("timeout")
            assert now.sum() >= 2 and now.mean() >= 5 * traces14["status"].eq("timeout").mean(), inc["id"]
        else:
            now = window(ok, start, end)[field].dropna()
            assert len(now) >= 10, inc["id"]
            assert now.median() >= 1.5 * quiet[field].median(), (inc["id"], field)
    assert checked >= 3
    kinds = {i["fault_type"] for i in incidents14}
    assert {"llm_provider_slowdown", "llm_cost_spike"} <= kinds


def test_novel_template_first_appears_during_its_incident(incidents14, logs14):
    novel = [(inc, text) for inc in incidents14 for text in inc["novel_log_templates"]]
    assert novel
    for inc, text in novel:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", ".+?", re.escape(text)) + "$"
        hits = logs14[logs14["message"].str.match(pattern)]
        assert len(hits) >= 5
        assert hits["ts"].min() >= pd.Timestamp(inc["start"])
        assert hits["ts"].max() < pd.Timestamp(inc["end"]) + pd.Timedelta(minutes=10)


def test_routine_deploys_blip_during_their_rollout(truth14, series):
    blips = [d for d in truth14["deploys"] if d["effect"] == "blip"]
    assert len(blips) >= 5
    for d in blips[:5]:
        start, end = pd.Timestamp(d["started"]), pd.Timestamp(d["end"])
        assert pd.Timedelta(minutes=3) <= end - start <= pd.Timedelta(minutes=7)
        p95 = series[(d["service"], "latency_p95_ms", "")]
        during = window(p95, start, end)["value"].median()
        after = window(p95, end + pd.Timedelta(minutes=10), end + pd.Timedelta(minutes=40))["value"].median()
        assert during > 1.2 * after


def test_some_changes_leave_a_lasting_level_shift(truth14, series):
    """p50 latency an hour after against an hour before the change, relative to the same hours of
    the previous day (which cancels the daily ramp)."""
    checked = agree = 0
    for c in truth14["changes"]:
        t = pd.Timestamp(c["time"])
        if c["effect"] != "level_shift" or abs(c["shift_factor"] - 1) < 0.12 or t.weekday() in (0, 5, 6):
            continue
        p50 = series[(c["service"], "latency_p50_ms", "")]
        ratio = lambda at, p50=p50: (window(p50, at + pd.Timedelta(minutes=10), at + pd.Timedelta(minutes=70))["value"].median()
                            / window(p50, at - pd.Timedelta(minutes=70), at - pd.Timedelta(minutes=10))["value"].median())
        moved = ratio(t) / ratio(t - pd.Timedelta(days=1))
        checked += 1
        agree += (moved > 1.05) if c["shift_factor"] > 1 else (moved < 0.95)
    assert checked >= 5 and agree >= 0.8 * checked


def test_changes_are_logged_by_the_service_or_exported_to_the_changes_kind(world14, truth14, logs14):
    exported = pd.concat([pd.read_json(p, lines=True) for p in sorted((world14.root / "changes").rglob("*.jsonl"))
                          if p.stat().st_size], ignore_index=True)
    assert set(exported["kind"]) == {"deploy", "config"}
    for c in truth14["changes"]:
        assert c["logged"] or c["audited"]
        if c["audited"]:
            hit = exported[(exported["service"] == c["service"]) & (exported["timestamp"] == pd.Timestamp(c["time"]))]
            assert len(hit) == 1, c
    deploy_lines = logs14[logs14["message"].str.contains(r"deploy (?:started|finished)|rolling update|upgrade to", regex=True)]
    assert len(deploy_lines) == 2 * sum(c["kind"] == "deploy" for c in truth14["changes"])


def test_scheduled_jobs_run_every_night_and_load_the_database(truth14, series, logs14):
    jobs = pd.DataFrame(truth14["jobs"])
    assert (jobs.groupby("name").size() == 14).all() and set(jobs["service"]) == {"postgres-main", "redis-cache"}
    backup = jobs[jobs["name"] == "pg-backup"]
    starts = pd.to_datetime(backup["start"])
    assert (starts.dt.hour * 60 + starts.dt.minute).between(108, 132).all()  # 02:00 give or take 12 minutes
    cpu = series[("postgres-main", "cpu_utilization", "pg-1")]
    during = [window(cpu, pd.Timestamp(j.start), pd.Timestamp(j.end))["value"].median() for j in backup.itertuples()]
    before = [window(cpu, pd.Timestamp(j.start) - pd.Timedelta(hours=1), pd.Timestamp(j.start))["value"].median() for j in backup.itertuples()]
    assert np.all(np.array(during) > np.array(before) + 0.1)
    assert (logs14["message"].str.startswith("starting base backup")).sum() == 14
    assert not jobs.loc[jobs["name"] == "pg-vacuum", "logged"].any()  # a silent job too


def test_demand_surges_lift_traffic_on_most_services_at_once(truth14, series):
    assert len(truth14["surges"]) >= 1
    first = pd.Timestamp(truth14["surges"][0]["start"])
    assert first.weekday() == 4 and 17 <= first.hour < 20  # the first Friday evening
    for surge in truth14["surges"]:
        start, end = pd.Timestamp(surge["start"]), pd.Timestamp(surge["end"])
        assert len(surge["services"]) >= 0.6 * 14
        for service in surge["services"][:4]:
            rr = series[(service, "request_rate", "")]
            peak = window(rr, start + pd.Timedelta(minutes=25), end - pd.Timedelta(minutes=20))["value"].median()
            last_week = np.median([window(rr, a + pd.Timedelta(minutes=25), b - pd.Timedelta(minutes=20))["value"].median()
                                   for a, b in shifted_windows(start, end)])
            assert peak > 1.2 * last_week, (service, surge["start"])


def test_a_service_appears_mid_week_and_a_third_party_never_reports(truth14, metrics14, logs14):
    (new,) = truth14["new_services"]
    since = pd.Timestamp(new["since"])
    mine = metrics14[metrics14["service"] == new["service"]]
    assert since.weekday() == 2 and mine["ts"].min() == since and len(mine) > 1000
    assert logs14.loc[logs14["service"] == new["service"], "ts"].min() >= since
    assert any(new["service"] in edge[:2] for edge in truth14["topology"])
    assert truth14["kinds"]["payment-provider"] == "third_party"
    assert "payment-provider" not in set(metrics14["service"]) | set(logs14["service"])
    assert ["payments", "payment-provider"] in [e[:2] for e in truth14["topology"]]
