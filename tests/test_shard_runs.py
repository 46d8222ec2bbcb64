"""Ingesting, scoring and rolling up metrics by service shard changes no stored byte: two days of the small sample
world through the metric part of the AIOps graph with 1 shard (the single steps) and with 4 shards (ingestion: a step
per shard reading the day's files and keeping its services' rows, join; scoring: split, a step per shard, join;
rollups: a step per shard reading only its services' rows, join) store the same Parquet partitions,
detector state and state lineage. Both in one process: every shard step's output still goes through the IO manager's
files, as between processes; tests/test_celery_runs.py runs shard steps on separate worker processes."""

import json

import dagster as dg

from ops_pipelines.defs.executors import EXECUTOR_ENV
from ops_pipelines.settings import SHARDS_ENV
from tests.celery_cluster import drive, isolated_env
from tests.fault_injection.harness import day_files, instance_for, small_world

DAYS = ["2026-03-02", "2026-03-03"]
# metric ingestion, the sharded scoring and its consumer the rollups (the incidents read the same joined partition)
SELECTION = "key:telemetry_metrics or key:metric_anomalies or key:anomaly_rollups"


def run_days(landing, work, shards: int, executor: str):
    env = {**isolated_env(work, landing), SHARDS_ENV: str(shards)}
    env[EXECUTOR_ENV] = executor
    report = work / "report.json"
    proc = drive(env, DAYS, report, SELECTION)
    assert proc.returncode == 0, report.read_text() if report.exists() else "the driver failed"
    return env, json.loads(report.read_text()), work / "home"


def sharded_steps(env, run_id: str) -> list[str]:
    with instance_for(env) as instance:
        done = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    return sorted(e.step_key for e in done if e.step_key.startswith(("ingest_telemetry_metrics", "metric_anomalies", "anomaly_rollups")))


def test_four_shards_store_the_bytes_of_one(tmp_path):
    small_world(tmp_path / "landing", tmp_path, days=len(DAYS))
    one_env, one, one_home = run_days(tmp_path / "landing", tmp_path / "one", 1, "in_process")
    four_env, four, four_home = run_days(tmp_path / "landing", tmp_path / "four", 4, "in_process")

    # one shard: the one step each
    assert sharded_steps(one_env, one["runs"][0]["run_id"]) == ["anomaly_rollups", "ingest_telemetry_metrics", "metric_anomalies"]
    assert sharded_steps(four_env, four["runs"][1]["run_id"]) == sorted([
        *[f"ingest_telemetry_metrics.ingest_telemetry_metrics_shard{s}_of_4" for s in range(4)],
        "ingest_telemetry_metrics.ingest_telemetry_metrics_joined",
        *[f"metric_anomalies.metric_shard_scores[shard{s}_of_4]" for s in range(4)],
        "metric_anomalies.metric_scores_joined", "metric_anomalies.metric_shards",
        *[f"anomaly_rollups.rollup_shard{s}_of_4" for s in range(4)], "anomaly_rollups.rollups_joined"])
    a = {p: b for day in DAYS for p, b in day_files(one_home, day).items()}
    b = {p: b for day in DAYS for p, b in day_files(four_home, day).items()}
    assert {p.split("/")[1] for p in a} >= {"telemetry_metrics", "metric_anomalies", "anomaly_rollups"}
    assert sorted(a) == sorted(b)
    assert [p for p in a if a[p] != b[p]] == []
    # the shards' parts are dropped once the day's partition and state are written
    assert not list((four_home / "storage").rglob("*.npz")) and not (four_home / "storage" / ".steps").exists()
