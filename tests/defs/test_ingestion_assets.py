"""Ingestion assets end to end: Parquet per partition, quarantine table, check outcomes."""

import pandas as pd

from tests.conftest import DAY

HEADER = "timestamp,service,metric,value,host\n"


def _metrics(landing, bad_rows: int = 0):
    good = "".join(f"2026-03-02T10:{m:02d}:00Z,api,rps,{m},h1\n" for m in range(50))
    bad = "".join(f"2026-03-02T11:{m:02d}:00Z,api,rps,oops,h1\n" for m in range(bad_rows))
    landing.write("metrics", "m.csv", HEADER + good + bad)


def test_materialize_writes_rows_and_quarantine_per_partition(landing, run_day):
    _metrics(landing, bad_rows=1)
    landing.write("logs", "broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage")
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
