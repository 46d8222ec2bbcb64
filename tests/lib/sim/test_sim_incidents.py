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
    problems, checked = [], 0
    for inc, s, start, end in symptoms(incidents14, "metrics"):
        data = series[(s["service"], s["metric"], s.get("host", ""))]
        now = window(data, start, end)["value"]
        base = np.median([window(data, a, b)["value"].median() for a, b in shifted_windows(start, end)])
        assert len(now) >= 2, (inc["id"], s)
        got = now.median()
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


def test_deploys_are_short_blips_not_incidents(truth14, series):
    routine = [d for d in truth14["deploys"] if d["incident_id"] is None]
    assert routine
    for d in routine[:5]:
        start, end = pd.Timestamp(d["time"]), pd.Timestamp(d["end"])
        assert end - start <= pd.Timedelta(minutes=5)
        p95 = series[(d["service"], "latency_p95_ms", "")]
        during = window(p95, start, end)["value"].median()
        after = window(p95, end + pd.Timedelta(minutes=10), end + pd.Timedelta(minutes=40))["value"].median()
        assert during > 1.2 * after
