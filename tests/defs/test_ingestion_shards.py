"""Metric ingestion by service shard, as Dagster runs it: three shard steps and a join store the partitions, the
check outcomes and the metadata of the one step, and a failed blocking check still stops what reads the rows."""

import dagster as dg
import pandas as pd

from ops_pipelines.defs.aiops.ingestion import telemetry_metrics
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.factories.ingestion import ingestion_asset
from tests.conftest import DAY
from tests.lib.ingest.test_shards import MESSY

SHARDED = ingestion_asset("metrics", group="aiops", description="metrics by shard", shards=3)
ASSETS = ("telemetry_metrics", "telemetry_metrics_quarantine")


def _write(landing):
    for name, content in MESSY.items():
        landing.write("metrics", name, content)


def _outcome(result):
    checks = {c.check_name: (c.passed, {k: v.value for k, v in c.metadata.items()}) for c in result.get_asset_check_evaluations()}
    mats = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items() if k not in ("path", "shards")}
            for e in result.get_asset_materialization_events()}
    return checks, mats


def test_three_shards_store_the_one_step_partitions_checks_and_metadata(landing, run_day, tmp_path):
    _write(landing)
    one, storage = run_day(DAY, assets=[telemetry_metrics], max_quarantine_share=1.0)  # the messy day's share is high
    one_bytes = {a: (storage / a / f"{DAY}.parquet").read_bytes() for a in ASSETS}
    sharded, storage = run_day(DAY, assets=[SHARDED], max_quarantine_share=1.0)
    assert one.success and sharded.success
    assert {a: (storage / a / f"{DAY}.parquet").read_bytes() for a in ASSETS} == one_bytes
    assert _outcome(sharded) == _outcome(one)
    checks, mats = _outcome(sharded)
    assert checks["all_files_readable"][0] is False and checks["rows_accounted_for"][0] is True  # the messy day's
    assert mats["telemetry_metrics"]["quarantined_rows"] > 0
    # three shard steps and the join; their parts are gone once the partitions are written
    steps = sorted(e.step_key for e in sharded.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS)
    assert steps == sorted([*(f"ingest_telemetry_metrics.ingest_telemetry_metrics_shard{s}_of_3" for s in range(3)),
                            "ingest_telemetry_metrics.ingest_telemetry_metrics_joined"])
    assert not (storage / ".steps").exists()


def test_a_failed_blocking_check_of_the_sharded_graph_stops_what_reads_the_rows(landing, run_day):
    landing.write("metrics", "m.csv", "timestamp,service,metric,value,host\n" + "".join(
        f"2026-03-02T10:{m:02d}:00Z,api,rps,{'oops' if m % 2 else m},h1\n" for m in range(40)))
    read = []

    @dg.asset(partitions_def=daily_partitions)
    def reader(telemetry_metrics: pd.DataFrame) -> None:
        read.append(len(telemetry_metrics))

    result, _ = run_day(DAY, assets=[SHARDED, reader], max_quarantine_share=0.1)
    share = next(c for c in result.get_asset_check_evaluations() if c.check_name == "quarantine_share_below_threshold")
    assert share.passed is False and share.metadata["quarantine_share"].value == 0.5
    assert not result.success and read == []
