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


def _series_csv(path: Path, n: int, seed: int, moves=(), repeats=()) -> pd.DataFrame:
    """A 5-minute series written as text; `moves` (from, to) move rows, `repeats` repeat a row's timestamp."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = pd.date_range("2015-09-01", periods=n, freq="5min").strftime("%Y-%m-%d %H:%M:%S")
    values = (50 + 10 * np.sin(np.arange(n) / 288 * 2 * np.pi) + rng.normal(0, 1, n)).round(3)
    rows = [[stamp, str(v)] for stamp, v in zip(t, values)]
    for at in repeats:
        rows.insert(at + 1, [rows[at][0], "77.7"])
    for src, dst in moves:
        rows.insert(dst, rows.pop(src))
    frame = pd.DataFrame(rows, columns=["timestamp", "value"])
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def test_detect_on_messy_files_scores_every_usable_file_row_for_row_and_overwrites_nothing(tmp_path):
    mixed = tmp_path / "mixed"
    ooo = _series_csv(mixed / "east" / "cpu.csv", 1500, 1, moves=[(1400, 700)])
    dst = _series_csv(mixed / "west" / "cpu.csv", 1500, 2, repeats=[300, 900])
    (mixed / "west" / "export.csv").write_text("when,what\n2015-09-01 00:00:00,1\n")

    out = run(["detect", "mixed", "--output", "out"], tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert "error: mixed/west/export.csv: missing column(s) timestamp, value" in out.stderr
    assert [line for line in lines if "export.csv" in line] and len(lines) == 3, lines
    assert "note: mixed/east/cpu.csv: 1 row out of order; scored in time order, written in file order" in lines
    assert "note: mixed/west/cpu.csv: 2 repeated timestamps" in lines
    assert "scored 2 file(s) into out; 1 could not be scored" in out.stdout
    for name, source in (("east", ooo), ("west", dst)):
        scored = pd.read_csv(tmp_path / "out" / name / "cpu.csv", dtype={"timestamp": str, "value": str})
        assert list(scored.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
        assert scored[["timestamp", "value"]].equals(source), name  # row for row, as the input had them
        assert scored["anomaly_score"].between(0, 1).all() and scored["anomaly_score"].gt(0).sum() > 10
    assert not (tmp_path / "out" / "west" / "export.csv").exists()

    # a second run into the same folder refuses before writing anything
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.csv")}
    (mixed / "east" / "cpu.csv").write_text("timestamp,value\n2015-09-01 00:00:00,1\n")
    again = run(["detect", "mixed", "--output", "out"], tmp_path)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "exist already" in again.stderr and "--overwrite" in again.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.csv")} == before

    # several inputs: same-named files mirror their paths instead of landing on one out2/cpu.csv
    ooo.to_csv(mixed / "east" / "cpu.csv", index=False)
    both = run(["detect", "mixed/east/cpu.csv", "mixed/west/cpu.csv", "--output", "out2"], tmp_path)
    assert both.returncode == 0, both.stderr[-2000:]
    for name in ("east", "west"):
        assert (tmp_path / "out2" / name / "cpu.csv").read_bytes() == before[tmp_path / "out" / name / "cpu.csv"]
    assert len(list((tmp_path / "out2").rglob("*.csv"))) == 2

    missing = run(["detect", "nope.csv", "--output", "out3"], tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no such file or folder: nope.csv"


def test_run_goes_through_your_own_landing_zone_day_by_day_and_says_which_day_failed(tmp_path):
    import datetime as dt

    from ops_pipelines.lib.sim import simulate_world

    landing = tmp_path / "mine" / "landing"
    simulate_world(landing, dt.date(2026, 3, 2), 2, seed=5)
    # a third day whose only file is unusable: the blocking quarantine check fails that day's run
    header = (landing / "metrics" / "2026-03-02" / "metrics.csv").read_text().splitlines()[0]
    bad = landing / "metrics" / "2026-03-04" / "export.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(header + "\n" + "yesterday,frontend,cpu,lots,\n" * 20)

    assert run(["init", "--home", "mine"], tmp_path).returncode == 0  # a new data home: its stores, once
    out = run(["run", "--from", "2026-03-02", "--to", "2026-03-04", "--home", "mine"], tmp_path)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    progress = [line for line in out.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[2:4] for line in progress] == [["2026-03-02", "success"], ["2026-03-03", "success"],
                                                        ["2026-03-04", "failure"]]
    table = out.stdout[out.stdout.index("Per day"):].splitlines()[1:4]
    assert [row.split()[:2] for row in table] == [["2026-03-02", "success"], ["2026-03-03", "success"],
                                                  ["2026-03-04", "failure"]]
    assert "quarantine_share_below_threshold" in table[2]
    assert "rerun from the first: ops-pipelines run --from 2026-03-04 --to 2026-03-04" in out.stderr

    storage = tmp_path / "mine" / "storage"
    for asset in ("telemetry_metrics", "service_logs", "metric_anomalies", "incidents", "alert_noise_report"):
        assert sorted(p.name for p in (storage / asset).glob("*.parquet"))[:2] == ["2026-03-02.parquet", "2026-03-03.parquet"], asset
    assert len(pd.read_parquet(storage / "metric_anomalies" / "2026-03-03.parquet")) > 1000
    assert not (storage / "metric_anomalies" / "2026-03-04.parquet").exists()  # skipped after the failed check
    assert not (tmp_path / "home").exists()  # --home, not $OPS_PIPELINES_HOME


def test_run_refuses_a_range_it_cannot_run_without_starting_anything(tmp_path):
    out = run(["run", "--from", "2026-03-03", "--to", "2026-03-02"], tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == "error: --to 2026-03-02 is before --from 2026-03-03"
    out = run(["run", "--from", "2026-03-02", "--to", "2026-03-03"], tmp_path)
    assert out.returncode == 2 and "no landing files for any day from 2026-03-02 to 2026-03-03" in out.stderr
    assert not (tmp_path / "home" / "dagster").exists()


def test_init_creates_the_stores_and_refuses_to_replace_a_deleted_registry(tmp_path):
    out = run(["init", "--home", "mine"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    home = tmp_path / "mine"
    assert f"registry store {home / 'mlflow' / 'mlflow.db'}: created (store id " in out.stdout
    assert (home / "mlflow" / "mlflow.db").exists() and (home / "stores.json").exists()
    assert (home / "dagster" / "dagster.yaml").exists() and (home / "landing").is_dir()

    (home / "mlflow" / "mlflow.db").unlink()
    again = run(["init", "--home", "mine"], tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith(f"error: the MLflow registry store {home / 'mlflow' / 'mlflow.db'} does not exist")
    assert "--new-registry" in again.stderr and not (home / "mlflow" / "mlflow.db").exists()
