"""Ingestion assets end to end: Parquet per partition, quarantine table, check outcomes."""

import gzip
import os

import dagster as dg
import pandas as pd

from ops_pipelines.defs.aiops.ingestion import change_events, service_logs, telemetry_metrics
from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.defs.mlops.ingestion import model_events
from ops_pipelines.factories.ingestion import INGESTION_ASSETS
from tests.conftest import DAY
from tests.lib.ingest.test_kinds import KINDS

ASSETS = {"metrics": telemetry_metrics, "logs": service_logs, "llm_traces": llm_traces, "model_events": model_events,
          "changes": change_events}

HEADER = "timestamp,service,metric,value,host\n"


def _metrics(landing, bad_rows: int = 0):
    good = "".join(f"2026-03-02T10:{m:02d}:00Z,api,rps,{m},h1\n" for m in range(50))
    bad = "".join(f"2026-03-02T11:{m:02d}:00Z,api,rps,oops,h1\n" for m in range(bad_rows))
    landing.write("metrics", "m.csv", HEADER + good + bad)


def test_materialize_writes_rows_and_quarantine_per_partition(landing, run_day):
    _metrics(landing, bad_rows=1)
    landing.write("logs", "broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage")  # counts as one quarantined row
    landing.write("logs", "good.jsonl", "".join(
        f'{{"timestamp":"2026-03-02T01:{m:02d}:00Z","service":"a","host":"h","level":"info","message":"m"}}\n' for m in range(60)))
    result, storage = run_day(DAY)
    assert result.success
    rows = pd.read_parquet(storage / "telemetry_metrics" / f"{DAY}.parquet")
    quarantine = pd.read_parquet(storage / "telemetry_metrics_quarantine" / f"{DAY}.parquet")
    assert len(rows) == 50 and quarantine["reason"].tolist() == ["wrong_type"]
    events = result.get_asset_materialization_events()
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in events}
    assert mats["telemetry_metrics"]["quarantined_rows"].value == 1
    assert mats["telemetry_metrics_quarantine"]["reason/wrong_type"].value == 1
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert checks[("telemetry_metrics", "quarantine_share_below_threshold")] is True
    assert checks[("service_logs", "all_files_readable")] is False
    assert checks[("telemetry_metrics", "all_files_readable")] is True
    assert checks[("service_logs", "quarantine_share_below_threshold")] is True
    assert all(checks[(a, "rows_accounted_for")] for a in ("telemetry_metrics", "service_logs", "llm_traces", "model_events"))
    logs = mats["service_logs"]
    assert (logs["rows_read"].value, logs["dagster/row_count"].value, logs["quarantined_rows"].value) == (61, 60, 1)
    assert f"| `logs/{DAY}/broken.jsonl.gz` | 1 | 0 | 1 | 0 |" in logs["accounting"].value


def test_quarantine_share_above_threshold_fails_the_blocking_check(landing, run_day):
    _metrics(landing, bad_rows=5)
    result, _ = run_day(DAY, max_quarantine_share=0.05)
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    failed = checks[("telemetry_metrics", "quarantine_share_below_threshold")]
    assert failed.passed is False
    assert failed.metadata["quarantine_share"].value == 5 / 55


def test_rematerializing_a_partition_is_byte_identical(landing, run_day):
    _metrics(landing, bad_rows=2)
    landing.write("logs", "l.jsonl", '{"timestamp":"2026-03-02T01:00:00Z","service":"a","host":"h","level":"info","message":"m"}\n')
    _, storage = run_day(DAY)
    first = {p.relative_to(storage): p.read_bytes() for p in sorted(storage.rglob("*.parquet"))}
    _, storage = run_day(DAY)
    second = {p.relative_to(storage): p.read_bytes() for p in sorted(storage.rglob("*.parquet"))}
    assert len(first) == 8 and first == second


def _checks(result):
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}


def test_an_unreadable_file_counts_its_lines_as_quarantined(landing, run_day):
    _metrics(landing)
    landing.write("metrics", "renamed_columns.csv", "when,what\n" + "".join(f"2026-03-02T11:{m:02d}:00Z,{m}\n" for m in range(30)))
    lines = "".join(f"2026-03-02T12:{i % 60:02d}:{i // 60 % 60:02d}Z,api-{i * 7919 % 1000},rps,{i * 104729 % 99991},h1\n" for i in range(5000))
    landing.write("metrics", "cut.csv.gz", gzip.compress((HEADER + lines).encode())[:4000])  # truncated
    result, _ = run_day(DAY)
    checks = _checks(result)
    accounting = checks[("telemetry_metrics", "rows_accounted_for")]
    assert accounting.passed is True
    quarantined = accounting.metadata["rows_quarantined"].value
    assert quarantined > 30 and accounting.metadata["rows_read"].value == 50 + quarantined
    share = checks[("telemetry_metrics", "quarantine_share_below_threshold")]
    assert share.passed is False and share.metadata["quarantine_share"].value == quarantined / (50 + quarantined)


def test_rows_accounted_for_is_a_blocking_check_that_catches_a_lost_row(landing, run_day, monkeypatch):
    from ops_pipelines.lib.ingest import pipeline

    real = pipeline.finalize

    def losing_one(*args, **kwargs):  # a bug that silently drops a stored row
        rows, *rest = real(*args, **kwargs)
        return (rows.iloc[1:], *rest)

    monkeypatch.setattr(pipeline, "finalize", losing_one)
    _metrics(landing)
    result, _ = run_day(DAY)
    check = _checks(result)[("telemetry_metrics", "rows_accounted_for")]
    assert check.passed is False
    assert check.metadata["rows_read"].value == 50 and check.metadata["rows_stored"].value == 49
    assert not result.success  # blocking: the step fails, nothing downstream runs on it


def test_latin1_names_symlinks_out_and_a_bad_byte_never_fail_the_run_or_leak(landing, run_day, tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:SECRET-CONTENT-41c7:/root:/bin/bash\n")
    _metrics(landing)
    day = landing.root / "metrics" / DAY
    (day / "passwd.csv").symlink_to(secret)
    with open(os.path.join(os.fsencode(day), b"caf\xe9.csv"), "wb") as fh:
        fh.write((HEADER + "2026-03-02T12:00:00Z,api,rps,1,h1\n").encode())
    landing.write("logs", "l.jsonl", b'{"timestamp":"2026-03-02T01:00:00Z","service":"a","host":"h","level":"info","message":"caf\xe9"}\n'
                  + b"".join(b'{"timestamp":"2026-03-02T02:%02d:00Z","service":"a","host":"h","level":"info","message":"m"}\n' % m for m in range(60)))
    with dg.instance_for_test() as instance:
        result, storage = run_day(DAY, instance=instance, max_quarantine_share=0.1)
        assert result.success
        records = instance.all_logs(result.run_id)
        logged = " ".join(str(e) for e in records)
        messages = " ".join(e.user_message for e in records)
    quarantine = pd.read_parquet(storage / "telemetry_metrics_quarantine" / f"{DAY}.parquet")
    assert sorted(quarantine["reason"]) == ["symlink_outside_landing_zone", "unreadable_file_name"]
    assert f"metrics/{DAY}/caf\\xe9.csv" in quarantine["source_file"].tolist()
    logs_quarantine = pd.read_parquet(storage / "service_logs_quarantine" / f"{DAY}.parquet")
    assert logs_quarantine[["line", "reason"]].values.tolist() == [[1, "invalid_utf8"]]
    assert len(pd.read_parquet(storage / "service_logs" / f"{DAY}.parquet")) == 60
    stored = b"".join(p.read_bytes() for p in storage.rglob("*") if p.is_file())
    assert b"SECRET-CONTENT" not in stored and "SECRET-CONTENT" not in logged
    assert f"metrics/{DAY}/caf\\xe9.csv" in messages  # the refused file is named in the run's log


def _bad_input(kind: str) -> list[dict]:
    """Per kind: exact duplicate, out-of-order, +01:00 and naive timestamps, non-finite and 1e308 values."""
    build, _, _, numeric = KINDS[kind]
    records = [build("2026-03-02T10:05:00Z", key="k1"), build("2026-03-02T10:05:00Z", key="k1"),
               build("2026-03-02T10:00:00Z", key="k2"), build("2026-03-02T11:03:00+01:00", key="k3"),
               build("2026-03-02T10:04:00", key="k4")]
    if numeric:
        records += [build("2026-03-02T10:06:00Z", value=float("inf"), key="k5"), build("2026-03-02T10:07:00Z", value=1e308, key="k6")]
    return records


def test_every_ingestion_asset_on_malformed_empty_duplicated_unordered_wrong_zone_and_non_finite_input(landing, run_day):
    expected = {}
    for kind, (_, name, serialise, numeric) in KINDS.items():
        text = serialise(_bad_input(kind))
        text += "x,y,z,1,2,3,4,5,6,7,8,9,10\n" if name.endswith(".csv") else '{"timestamp": "2026-03-02T1\n'
        landing.write(kind, name, text)
        landing.write(kind, "empty" + name[1:], "")
        expected[kind] = {"naive_timestamp", "unparseable_row", "unreadable_file"} | ({"non_finite", "out_of_range"} if numeric else set())
    result, storage = run_day(DAY, assets=[*ASSETS.values()], max_quarantine_share=0.9)
    checks = _checks(result)
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(KINDS) == set(INGESTION_ASSETS)  # every ingestion asset is covered
    for kind, asset in INGESTION_ASSETS.items():
        rows = pd.read_parquet(storage / asset / f"{DAY}.parquet")
        quarantine = pd.read_parquet(storage / f"{asset}_quarantine" / f"{DAY}.parquet")
        assert set(quarantine["reason"]) == expected[kind], asset
        assert str(rows["timestamp"].dt.tz) == "UTC"
        if kind == "metrics":  # series-major (here one series per key), then time
            assert rows["metric"].tolist() == ["k1", "k2", "k3"]
        else:
            assert rows["timestamp"].is_monotonic_increasing
        assert sorted(rows["timestamp"].dt.minute) == [0, 3, 5]  # +01:00 read as UTC, one copy of the duplicate
        assert mats[asset]["exact_duplicates_dropped"].value == 1
        assert checks[(asset, "rows_accounted_for")].passed is True
        assert checks[(asset, "all_files_readable")].passed is False  # the empty file
