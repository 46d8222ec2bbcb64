"""The command line as a user runs it: simulate, then the demo on a fresh data dir (the session's shared one)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd

from ops_pipelines.daily_runs import PAGE_ASSETS
from tests.small_demo import DAYS

EXE = Path(sys.executable).with_name("ops-pipelines")
REPO = Path(__file__).resolve().parent.parent


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


def test_demo_materializes_every_ingestion_asset_per_day_and_prints_a_summary(small_demo):
    """The session's shared demo (tests/small_demo.py): DEMO_DAYS days, DAGSTER_HOME unset."""
    assert "What was produced" in small_demo.output and "ops-pipelines ui" in small_demo.output
    storage = small_demo.storage
    days = [f"{day}.parquet" for day in DAYS]
    for asset in ("telemetry_metrics", "service_logs", "llm_traces", "model_events"):
        files = sorted(p.name for p in (storage / asset).glob("*.parquet"))
        assert files == days, asset
        assert len(pd.read_parquet(storage / asset / files[0])) > 100
    # the summary's quarantined column equals the injected column for every asset
    table = [line.split() for line in small_demo.output.splitlines() if line.startswith(("telemetry_metrics ", "service_logs ", "llm_traces ", "model_events "))]
    assert len(table) == 4 and all(row[2] == row[3] for row in table), table
    # runs are recorded in the embedded instance the CLI created under the data home, so the UI shows them
    assert list(small_demo.dagster_home.glob("**/runs.db"))
    assert not list(small_demo.root.glob(".tmp_dagster_home_*"))
    # Each day's HTML pages ran as a run of their own beside the days; no run evaluated the freshness checks
    # (the freshness sensor's), which a subset run does unless its checks are named.
    for asset in PAGE_ASSETS:
        assert sorted(p.name for p in (storage / asset).glob("*.parquet")) == days
    with dg.DagsterInstance.from_config(str(small_demo.dagster_home)) as instance:
        runs = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        selections = sorted((r.tags["dagster/partition"], sorted(k.to_user_string() for k in r.asset_selection)) for r in runs)
        pages = sorted(PAGE_ASSETS)
        assert [day for day, assets in selections if assets == pages] == DAYS
        assert all("drift_report" in assets and not set(pages) & set(assets) for _, assets in selections if assets != pages)
        assert not [c for r in runs for c in r.asset_check_selection or () if c.name == "freshness_check"]


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
    # --from/--to: the flags' first names, kept as hidden aliases of --start/--end; the AIOps group is what this
    # test reads (the demo tests run the whole graph)
    out = run(["run", "--from", "2026-03-02", "--to", "2026-03-04", "--home", "mine", "--select", "group:aiops"], tmp_path)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    progress = [line for line in out.stdout.splitlines() if line.startswith("day ")]
    assert [line.split()[2:4] for line in progress] == [["2026-03-02", "success"], ["2026-03-03", "success"],
                                                        ["2026-03-04", "failure"]]
    table = out.stdout[out.stdout.index("Per day"):].splitlines()[1:4]
    assert [row.split()[:2] for row in table] == [["2026-03-02", "success"], ["2026-03-03", "success"],
                                                  ["2026-03-04", "failure"]]
    assert "quarantine_share_below_threshold" in table[2]
    assert "rerun from the first: ops-pipelines run --start 2026-03-04 --end 2026-03-04" in out.stderr

    storage = tmp_path / "mine" / "storage"
    for asset in ("telemetry_metrics", "service_logs", "metric_anomalies", "incidents", "alert_noise_report"):
        assert sorted(p.name for p in (storage / asset).glob("*.parquet"))[:2] == ["2026-03-02.parquet", "2026-03-03.parquet"], asset
    assert len(pd.read_parquet(storage / "metric_anomalies" / "2026-03-03.parquet")) > 1000
    assert not (storage / "metric_anomalies" / "2026-03-04.parquet").exists()  # skipped after the failed check
    assert not (tmp_path / "home").exists()  # --home, not $OPS_PIPELINES_HOME


def test_run_refuses_a_range_it_cannot_run_without_starting_anything(tmp_path):
    out = run(["run", "--start", "2026-03-03", "--end", "2026-03-02"], tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == "error: --end 2026-03-02 is before --start 2026-03-03"
    out = run(["run", "--start", "2026-03-02", "--end", "2026-03-03"], tmp_path)
    assert out.returncode == 2 and "no landing files for any day from 2026-03-02 to 2026-03-03" in out.stderr
    out = run(["run", "--start", "2026-03-02"], tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == "error: --start and --end are required (YYYY-MM-DD)"
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


def test_run_refuses_a_selection_or_config_file_it_cannot_use_before_starting_anything(tmp_path):
    import datetime as dt

    from ops_pipelines.lib.sim import simulate_world

    simulate_world(tmp_path / "home" / "landing", dt.date(2026, 3, 2), 1, seed=5)
    (tmp_path / "rules.json").write_text('{"rules": [{"name": "no action"}]}')
    cases = [
        (["--select", "key:training_dataset"], "error: --select 'key:training_dataset' picks training_dataset, which daily "
                                               "runs do not compute (retraining runs per model, launched by the retraining sensor)"),
        (["--select", "key:no_such_asset"], "error: --select 'key:no_such_asset' picks no asset"),
        (["--runbooks", "rules.json"], "error: --runbooks rules.json: ValueError: "),
        (["--topology", "missing.json"], "error: --topology missing.json: FileNotFoundError: "),
        ([], f"error: the data home {tmp_path / 'home'} is not initialised"),  # `ops-pipelines init` first
    ]
    for flags, message in cases:
        out = run(["run", "--start", "2026-03-02", "--end", "2026-03-02", *flags], tmp_path)
        assert out.returncode == 2 and out.stderr.startswith(message), (flags, out.stderr[-2000:])
    assert not (tmp_path / "home" / "dagster").exists()


def _small_world(landing: Path, tmp: Path, days: int) -> None:
    """The sample world with one host per service and a sixth of the log lines (as the nightly test uses)."""
    import datetime as dt
    import json

    from ops_pipelines.lib.sim import simulate_world
    from ops_pipelines.settings import ASSETS_DIR

    cfg = json.loads((ASSETS_DIR / "sim" / "world.json").read_text())
    for spec in cfg["services"].values():
        spec["hosts"] = spec["hosts"][:1]
    cfg["logs"]["lines_per_weekday"] //= 6
    (tmp / "small_world.json").write_text(json.dumps(cfg))
    simulate_world(landing, dt.date(2026, 3, 2), days, seed=5, config_path=tmp / "small_world.json")


def _outputs(home: Path, days: list[str]) -> dict[str, bytes]:
    """Every file the AIOps chain keeps for these days: Parquet partitions and carried state."""
    found = {}
    for top in ("storage", "state"):
        for path in sorted((home / top).rglob("*")):
            if path.is_file() and path.name.split(".")[0] in days and "_lineage" not in path.parts and "quarantine" not in path.parent.name:
                found[str(path.relative_to(home))] = path.read_bytes()
    return found


def test_rerunning_day_one_of_three_after_day_three_reruns_the_days_its_state_changed(tmp_path):
    """The Done-when line of issue 12: day 1 of a 3-day world is re-run (on a corrected file) after day 3. Days 2
    and 3 continued from day 1's old detector state: `run` re-runs them after it, in order, and they end byte
    for byte as a fresh run over the corrected world; with the UI's own config path, runbooks from --runbooks."""
    import json
    import shutil

    import dagster as dg

    days = ["2026-03-02", "2026-03-03", "2026-03-04"]
    first, fresh = tmp_path / "first", tmp_path / "fresh"
    _small_world(first / "landing", tmp_path, len(days))
    rules = {"rules": [{"name": "ours", "action": "OUR RUNBOOK: page the {service} owner"}]}
    (tmp_path / "ours.json").write_text(json.dumps(rules))
    flags = ["--select", "group:aiops", "--runbooks", "ours.json", "--topology", str(REPO / "assets/aiops/topology.json")]

    out = run(["run", "--start", days[0], "--end", days[-1], "--home", "first", *flags], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "daily_job, 14 asset(s) of it (group:aiops) for 3 day(s)" in out.stdout
    found = [pd.read_parquet(first / "storage" / "incidents" / f"{d}.parquet") for d in days]
    incidents = pd.concat([f for f in found if len(f)])
    assert len(incidents) and set(incidents["suggested_action"]) == {f"OUR RUNBOOK: page the {s} owner" for s in incidents["root_cause"]}
    assert not (first / "storage" / "drift_report").exists()  # not in the selection

    # A corrected metrics file for day 1 (a late export: one series three times higher in the evening).
    path = first / "landing" / "metrics" / days[0] / "metrics.csv"
    lines = path.read_text().splitlines()
    fixed = [",".join([*p[:3], str(float(p[3]) * 3), *p[4:]]) if p[0] >= f"{days[0]}T18" and p[1:3] == ["checkout", "request_rate"]
             else line for line, p in ((line, line.split(",")) for line in lines)]
    assert fixed != lines
    path.write_text("\n".join(fixed) + "\n")
    shutil.copytree(first / "landing", fresh / "landing")

    out = run(["run", "--start", days[0], "--end", days[0], "--home", "first", *flags], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    progress = [line.split() for line in out.stdout.splitlines() if line.startswith("day ")]
    assert [p[2:4] for p in progress] == [[days[0], "success"], [days[1], "success"], [days[2], "success"]]
    assert [p[1] for p in progress] == ["1/1", "2/3", "3/3"]  # the later days are known once day 1 has run
    note = next(line for line in out.stdout.splitlines() if line.startswith("note: "))
    assert note.startswith(f"note: 2 later day(s) ({days[1]} to {days[2]}) continued from state these runs replaced (")
    assert "re-running them in order" in note
    assert "3 of 3 day(s) succeeded, 2 of them later days re-run because their carried state was stale" in out.stdout

    out = run(["run", "--start", days[0], "--end", days[-1], "--home", "fresh", *flags], tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rerun, clean = _outputs(first, days), _outputs(fresh, days)
    assert sorted(rerun) == sorted(clean) and len(rerun) >= 3 * 10
    assert [k for k in rerun if rerun[k] != clean[k]] == []

    # What the instance recorded: the re-run of day 1 failed `state_is_current` (a warning) naming days 2-3,
    # the last day's run passed it; every run carried the runbooks path as run config.
    with dg.DagsterInstance.from_config(str(first / "dagster")) as instance:
        runs = sorted(instance.get_runs(filters=dg.RunsFilter(job_name="daily_job")), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
        assert len(runs) == 6 and {r.run_config["resources"]["aiops_config"]["config"]["runbooks_path"] for r in runs} == {
            str(tmp_path / "ours.json")}
        assert all(r.tags["ops/rerun_reason"] for r in runs[4:]) and "ops/rerun_reason" not in runs[3].tags
        checks = {}
        for r in runs[3:]:
            for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                data = e.dagster_event.event_specific_data
                if data.asset_key.to_user_string() == "metric_anomalies" and data.check_name == "state_is_current":
                    checks[r.tags["dagster/partition"]] = (data.passed, data.metadata["stale_later_days"].value)
        assert checks == {days[0]: (False, 2), days[1]: (False, 1), days[2]: (True, 0)}
