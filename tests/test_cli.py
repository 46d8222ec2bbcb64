"""The command line as a user runs it: simulate, then the demo on a fresh data dir."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

EXE = Path(sys.executable).with_name("ops-pipelines")


def run(args, tmp_path):
    env = {**os.environ, "OPS_PIPELINES_HOME": str(tmp_path / "home"), "DAGSTER_HOME": ""}
    env.pop("DAGSTER_HOME")
    return subprocess.run([str(EXE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_simulate_writes_a_landing_zone_and_separate_ground_truth(tmp_path):
    out = run(["simulate", "--days", "1", "--start", "2026-03-02", "--seed", "3", "--out", str(tmp_path / "lz")], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    kinds = sorted(p.name for p in (tmp_path / "lz").iterdir())
    assert kinds == ["changes", "ground_truth", "llm_traces", "logs", "metrics", "model_events"]
    assert (tmp_path / "lz" / "metrics" / "2026-03-02" / "metrics.csv").stat().st_size > 0


def test_demo_materializes_every_ingestion_asset_per_day_and_prints_a_summary(tmp_path):
    out = run(["demo", "--days", "2"], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "What was produced" in out.stdout and "ops-pipelines ui" in out.stdout
    storage = tmp_path / "home" / "storage"
    for asset in ("telemetry_metrics", "service_logs", "llm_traces", "model_events"):
        files = sorted(p.name for p in (storage / asset).glob("*.parquet"))
        assert files == ["2026-03-02.parquet", "2026-03-03.parquet"], asset
        assert len(pd.read_parquet(storage / asset / files[0])) > 100
    # the summary's quarantined column equals the injected column for every asset
    table = [line.split() for line in out.stdout.splitlines() if line.startswith(("telemetry_metrics ", "service_logs ", "llm_traces ", "model_events "))]
    assert len(table) == 4 and all(row[2] == row[3] for row in table), table
    # runs are recorded in the embedded instance, so the UI shows them
    assert list((tmp_path / "home" / "dagster").glob("**/runs.db")) or list((tmp_path / "home" / "dagster").glob("**/*.db"))
    assert not list(tmp_path.glob(".tmp_dagster_home_*"))
