"""Layout, volumes and format contracts of the default 14-day sample world."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd

from ops_pipelines.lib.sim import DEFAULT_START
from ops_pipelines.lib.sim.config import load_config
from tests.lib.sim import sim_readers as rd

DAYS = [(DEFAULT_START + dt.timedelta(days=k)).isoformat() for k in range(14)]
LABEL_WORDS = [b"hallucinat", b"fault_type", b"root_cause", b"toxic", b"pii_", b"refusal", b"incident", b"INC-",
               b"symptom", b"ground_truth"]


def test_default_world_is_summarised(world14):
    s = world14.summary.to_dict()
    assert s["days"] == 14 and s["start"] == "2026-03-02" and s["shift_date"] == "2026-03-12"
    assert s["incidents"] >= 8
    on_disk = [p for p in world14.root.rglob("*") if p.is_file()]
    assert s["files_written"] == len(on_disk)
    assert not [p for p in on_disk if p.name.startswith(".")], "temp files left behind"


def test_layout_follows_the_landing_zone_contract(world14):
    root = world14.root
    assert sorted(p.name for p in root.iterdir()) == ["changes", "ground_truth", "llm_traces", "logs", "metrics", "model_events"]
    expected = set()
    for day in DAYS:
        expected |= {f"metrics/{day}/metrics.csv", f"metrics/{day}/late-arrivals.csv",
                     f"metrics/{day}/prometheus/search.json", f"metrics/{day}/prometheus/redis-cache.json",
                     f"logs/{day}/services.jsonl", f"logs/{day}/legacy-erp.log",
                     f"llm_traces/{day}/traces.jsonl", f"model_events/{day}/events.parquet",
                     f"changes/{day}/changes.jsonl"}
    expected |= {f"ground_truth/{n}" for n in ("world.json", "incidents.json", "llm_labels.jsonl", "bad_rows.json")}
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert found == expected


def test_world_size_minimums(world14, truth14, metrics14):
    assert len(truth14["services"]) >= 14
    assert metrics14["service"].nunique() >= 14
    for service, spec in truth14["services"].items():
        assert 2 <= len(spec["hosts"]) <= 3, service
    edges = {tuple(e[:2]) for e in truth14["topology"]}
    assert ("frontend", "api-gateway") in edges and len(edges) >= 20
    assert len(truth14["llm_app"]["prompt_versions"]) >= 2 and len(truth14["llm_app"]["models"]) >= 2


def test_metric_rows_use_utc_and_one_local_offset(world14):
    df = pd.read_csv(world14.root / f"metrics/{DAYS[0]}/metrics.csv", dtype=str, keep_default_na=False,
                     on_bad_lines="skip")
    suffix = df["timestamp"].str.extract(r"(Z|[+-]\d\d:\d\d)$")[0].fillna("naive")
    by_service = df.assign(suffix=suffix).groupby("service")["suffix"].agg(lambda s: s.value_counts().index[0])
    assert by_service.drop("shipping").eq("Z").all()
    assert by_service["shipping"] == "+01:00"
    first = df[df["service"] == "shipping"]["timestamp"].iloc[0]
    assert first == "2026-03-02T01:00:00+01:00"  # 00:00Z written as local time
    assert set(df["service"]).isdisjoint({"search", "redis-cache"})
    service_level = df["metric"].isin(["request_rate", "latency_p50_ms", "latency_p95_ms", "error_rate"])
    assert (df.loc[service_level, "host"] == "").all()
    assert (df.loc[~service_level & (df["metric"] != ""), "host"] != "").all()


def test_every_service_has_all_metrics(metrics14, truth14):
    present = metrics14.groupby(["service", "host"], observed=True)["metric"].unique().map(set)
    for service, spec in truth14["services"].items():
        assert present[(service, "")] == {"request_rate", "latency_p50_ms", "latency_p95_ms", "error_rate"}
        for host in spec["hosts"]:
            assert present[(service, host)] == {"cpu_utilization", "memory_utilization"}
    frac = metrics14.loc[metrics14["metric"].isin(["error_rate", "cpu_utilization", "memory_utilization"]), "value"]
    assert frac.between(0, 1).all()


def test_prometheus_files_are_query_range_matrices(world14):
    body = json.loads((world14.root / f"metrics/{DAYS[0]}/prometheus/search.json").read_text())
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix"
    series = body["data"]["result"]
    names = {(s["metric"]["__name__"], s["metric"]["instance"]) for s in series}
    assert ("latency_p95_ms", "") in names and ("cpu_utilization", "search-1") in names
    t, v = series[0]["values"][0]
    assert isinstance(t, float) and isinstance(v, str)
    assert dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat() == DAYS[0]


def test_seasonality_daily_and_weekly(metrics14):
    rr = metrics14[(metrics14["service"] == "frontend") & (metrics14["metric"] == "request_rate")]
    hourly = rr.groupby(rr["ts"].dt.hour)["value"].mean()
    assert hourly.max() > 2.5 * hourly.min()
    weekend = rr["ts"].dt.weekday >= 5
    assert rr.loc[weekend, "value"].mean() < 0.85 * rr.loc[~weekend, "value"].mean()


def test_gaps_are_missing_minutes(metrics14, truth14):
    assert truth14["gaps"]
    gap = truth14["gaps"][0]
    start = pd.Timestamp(gap["start"])
    sub = metrics14[(metrics14["service"] == gap["service"]) & (metrics14["ts"] >= start)
                    & (metrics14["ts"] < start + pd.Timedelta(minutes=gap["minutes"]))]
    assert sub.empty
    assert len(metrics14[metrics14["service"] == gap["service"]]["ts"].unique()) < 14 * 1440


def test_late_arrivals_are_held_back_and_out_of_order(world14):
    day = world14.root / f"metrics/{DAYS[3]}"
    main = pd.read_csv(day / "metrics.csv", dtype=str, keep_default_na=False, on_bad_lines="skip")
    late = pd.read_csv(day / "late-arrivals.csv", dtype=str, keep_default_na=False)
    assert 0.001 < len(late) / len(main) < 0.003
    stamps = rd.parse_ts(late["timestamp"])
    assert not stamps.is_monotonic_increasing
    assert (stamps.dt.date.astype(str) == DAYS[3]).all()
    key = ["timestamp", "service", "metric", "host"]
    assert late.merge(main, on=key).empty


def test_timestamps_stay_in_their_day_folder_except_known_bad_rows(world14):
    bad = rd.ground_truth(world14.root, "bad_rows.json")["files"]
    day = DAYS[5]
    rel = f"logs/{day}/services.jsonl"
    stamps = []
    for line in (world14.root / rel).read_text().splitlines():
        try:
            stamps.append(json.loads(line).get("timestamp"))
        except json.JSONDecodeError:
            continue
    dates = rd.parse_ts(pd.Series([s for s in stamps if s])).dt.date.astype(str)
    assert (dates != day).sum() == bad[rel]["bad"].get("outside_partition", 0)
    events = pd.read_parquet(world14.root / f"model_events/{day}/events.parquet")
    outside = (events["timestamp"].dt.date.astype(str) != day).sum()
    assert outside == bad[f"model_events/{day}/events.parquet"]["bad"].get("outside_partition", 0)


def test_log_volume_levels_and_legacy_format(world14, logs14):
    per_day = logs14.groupby(logs14["ts"].dt.date.astype(str)).size()
    assert per_day[DAYS].between(20_000, 60_000).all()
    assert set(logs14["level"]) == {"DEBUG", "INFO", "WARN", "ERROR"}
    legacy = (world14.root / f"logs/{DAYS[0]}/legacy-erp.log").read_text().splitlines()
    matching = [line for line in legacy if rd.LEGACY_RE.match(line)]
    assert len(matching) > 0.99 * len(legacy)
    assert re.match(r"^2026-03-02T\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) \[legacy-erp\] erp-[12] \S", matching[0])
    assert "legacy-erp" not in set(pd.read_json(world14.root / f"logs/{DAYS[0]}/services.jsonl", lines=True,
                                                nrows=5000)["service"])


def test_at_least_30_templates_show_up_in_one_day_of_logs(world14, logs14):
    templates = load_config().section("logs")["templates"]
    messages = logs14.loc[logs14["ts"].dt.date.astype(str) == DAYS[0], "message"]
    seen = 0
    for tpl in templates.values():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", ".+?", re.escape(tpl["text"])) + "$"
        seen += bool(messages.str.match(pattern).any())
    assert seen >= 30


def test_llm_trace_shape(world14, traces14):
    line = (world14.root / f"llm_traces/{DAYS[0]}/traces.jsonl").read_text().splitlines()[0]
    assert list(json.loads(line)) == ["trace_id", "timestamp", "app", "model", "prompt_template_id", "prompt_version",
                                      "question", "contexts", "answer", "reference_answer", "input_tokens",
                                      "output_tokens", "latency_ms", "status"]
    per_day = traces14.groupby(traces14["ts"].dt.date.astype(str)).size()
    assert per_day[DAYS].between(1000, 2000).all()
    assert traces14["prompt_version"].nunique() >= 2 and traces14["model"].nunique() >= 2
    assert set(traces14["status"]) == {"ok", "error", "timeout"}
    assert 0.15 < traces14["reference_answer"].notna().mean() < 0.25
    missing = traces14["input_tokens"].isna() | traces14["output_tokens"].isna()
    assert 0.02 < missing.mean() < 0.04
    assert traces14["contexts"].map(lambda c: isinstance(c, list) and len(c) >= 2).all()
    by_model = traces14[traces14["status"] == "ok"].groupby("model")["latency_ms"].median()
    assert by_model["sage-large"] > 1.8 * by_model["swift-small"]


def test_model_event_shape(events14):
    assert list(events14.columns) == ["event_id", "timestamp", "user_id", "item_id", "category", "price",
                                      "user_segment", "device", "country", "position", "item_popularity", "clicked",
                                      "folder"]
    assert str(events14["timestamp"].dt.tz) == "UTC"
    per_day = events14.groupby(events14["timestamp"].dt.date.astype(str)).size()
    assert per_day[DAYS].between(10_000, 30_000).all()
    assert set(events14["clicked"].unique()) == {0, 1}
    ctr_by_pos = events14.groupby("position")["clicked"].mean()
    assert ctr_by_pos.iloc[0] > 1.5 * ctr_by_pos.iloc[-1]


def test_labels_never_leak_into_observable_files(world14):
    for path in world14.root.rglob("*"):
        if not path.is_file() or path.parts[-3] == "ground_truth" or "ground_truth" in path.parts:
            continue
        if path.suffix == ".parquet":
            names = " ".join(pd.read_parquet(path).columns).encode()
            assert not any(w in names for w in LABEL_WORDS), path
            continue
        data = path.read_bytes()
        leaked = [w for w in LABEL_WORDS if w in data]
        assert not leaked, (path, leaked)


def test_incident_plan_meets_the_brief(incidents14, truth14):
    assert len(incidents14) >= 8
    assert len({i["fault_type"] for i in incidents14}) >= 4
    windows = sorted((pd.Timestamp(i["start"]), pd.Timestamp(i["end"])) for i in incidents14)
    for start, end in windows:
        assert pd.Timedelta(minutes=15) <= end - start <= pd.Timedelta(minutes=120)
    alone = sorted((pd.Timestamp(i["start"]), pd.Timestamp(i["end"])) for i in incidents14 if not i["concurrent_with"])
    for (_, end), (start, _) in zip(alone, alone[1:]):
        assert start - end >= pd.Timedelta(hours=2)
    assert sum(bool(i["concurrent_with"]) for i in incidents14) == 2
    assert any(s.date() != (e - pd.Timedelta(seconds=1)).date() for s, e in windows), "none crosses midnight"
    shift = pd.Timestamp(truth14["shift_date"], tz="UTC")
    assert any(s < shift + pd.Timedelta(days=1) and e > shift for s, e in windows), "none overlaps the shift day"
    for inc in incidents14:
        assert inc["root_cause_service"] in inc["affected_services"]
        assert inc["symptoms"] and all(s["direction"] in ("up", "down") for s in inc["symptoms"])
    assert any(i["novel_log_templates"] for i in incidents14)
    deploys = truth14["deploys"]
    assert sum(d["incident_id"] is None for d in deploys) >= 10
    assert any(d["incident_id"] for d in deploys)
    assert np.all([d["service"] in truth14["services"] for d in deploys])
    assert {d["effect"] for d in deploys} == {"blip", "level_shift", "regression"}
