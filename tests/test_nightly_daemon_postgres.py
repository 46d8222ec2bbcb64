"""Two nights of the nightly job run by `dagster-daemon` against the production instance on Postgres.

What this proves: the nightly schedule's ticks for two nights ask for the two simulated days; runs
for those requests, submitted to the QueuedRunCoordinator of the repository's dagster.yaml, are
dequeued and executed by a real `dagster-daemon` process (code location loaded the way `ops-pipelines
ui` loads it), one at a time and in order; every asset of `daily_job` is materialized for both days,
and runs, events and materializations live in PostgreSQL. What it does not prove: that the daemon
ticks the schedule at 02:00 (a real clock would have to reach two nights; the tick itself is
evaluated in-process with the scheduled time of each night, which is the same code the daemon calls).
"""

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.postgres import connect, fresh_database

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIRST_DAY = dt.date(2026, 3, 2)
DAYS = [FIRST_DAY.isoformat(), (FIRST_DAY + dt.timedelta(days=1)).isoformat()]
DEADLINE_S = 900  # a timeout, not a timing assertion: ~110 s on an idle 2-core machine, 6+ min under heavy load
pytestmark = pytest.mark.postgres


def instance_home(path: Path) -> Path:
    """The repository's dagster.yaml, with the queue serialised: nightly days must run in order
    (metric_anomalies carries detector state from the previous day)."""
    text = (REPO / "dagster.yaml").read_text()
    assert "max_concurrent_runs: 4" in text
    path.mkdir()
    (path / "dagster.yaml").write_text(text.replace("max_concurrent_runs: 4", "max_concurrent_runs: 1"))
    return path


def small_world(landing: Path, tmp: Path) -> None:
    """The sample world with one host per service and a sixth of the log volume: same graph, less data."""
    from ops_pipelines.lib.sim import simulate_world
    from ops_pipelines.settings import ASSETS_DIR

    cfg = json.loads((ASSETS_DIR / "sim" / "world.json").read_text())
    for spec in cfg["services"].values():
        spec["hosts"] = spec["hosts"][:1]
    cfg["logs"]["lines_per_weekday"] //= 6
    path = tmp / "small_world.json"
    path.write_text(json.dumps(cfg))
    simulate_world(landing, FIRST_DAY, len(DAYS), seed=7, config_path=path)


def nightly_requests() -> list[dg.RunRequest]:
    """What the schedule asks for at 02:00 UTC after each simulated day."""
    from ops_pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("nightly_schedule")
    hour = int(schedule.cron_schedule.split()[1])
    requests = []
    with dg.instance_for_test() as scratch:
        for day in DAYS:
            when = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(hour), dt.UTC)
            requests += schedule.evaluate_tick(dg.build_schedule_context(instance=scratch, scheduled_execution_time=when)).run_requests
    return requests


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (the daemon, its code server, run workers), then SIGKILL whatever
    is left of it: a code server can outlive the daemon that started it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_for_runs(instance: dg.DagsterInstance, daemon: subprocess.Popen, log: Path) -> list:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        records = instance.get_run_records(dg.RunsFilter(job_name="daily_job"), order_by="create_timestamp", ascending=True)
        if len(records) == len(DAYS) and all(r.dagster_run.is_finished for r in records):
            return records
        assert daemon.poll() is None, "dagster-daemon exited:\n" + log.read_text()[-3000:]
        time.sleep(2)
    statuses = [(r.dagster_run.tags.get("dagster/partition"), r.dagster_run.status.value) for r in records]
    raise AssertionError(f"runs not finished after {DEADLINE_S}s: {statuses}\n" + log.read_text()[-3000:])


def test_two_nights_run_through_the_daemon_on_postgres(pg, tmp_path):
    t0 = time.monotonic()

    def lap(what: str) -> None:  # visible with -s: where the time goes
        print(f"{what}: {time.monotonic() - t0:.1f}s", flush=True)

    db = fresh_database(pg, "dagster_daemon")
    home, dagster_home = tmp_path / "ops_home", instance_home(tmp_path / "dagster_home")
    small_world(home / "landing", tmp_path)
    requests = nightly_requests()
    assert [r.partition_key for r in requests] == DAYS
    lap("world and schedule ticks")

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "OPS_PIPELINES_HOME": str(home),
           "DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           **{f"DAGSTER_PG_{k.upper()}": v for k, v in {**pg, "db": db}.items()}}
    env.pop("OPS_PIPELINES_ALERT_WEBHOOK_URL", None)
    # The README's order: `ops-pipelines init` creates the registry store and the instance's tables
    # before the daemon starts. Without it the daemon and the first CLI race to create them on the
    # empty database, and one fails with "type run_tags already exists".
    init = subprocess.run([str(BIN / "ops-pipelines"), "init"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert init.returncode == 0, init.stdout + init.stderr[-3000:]
    assert f"Dagster instance {dagster_home}: ready" in init.stdout
    conn = connect(pg, db)
    with conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'public'")
        assert {"runs", "run_tags", "event_logs", "jobs"} <= {row[0] for row in cur.fetchall()}
    conn.close()
    target = ["-m", "ops_pipelines.definitions"]
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *target], env=env, cwd=tmp_path,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # One CLI process enqueues both nights, in day order (the queue keeps that order).
        # (The requests' own tags are per partition, e.g. dagster/partition: the backfill sets those.)
        tags = {"ops/trigger": "nightly_schedule"}
        launched = subprocess.run([str(BIN / "dagster"), "job", "backfill", *target, "-j", "daily_job", "--noprompt",
                                   "--partitions", ",".join(r.partition_key for r in requests), "--tags", json.dumps(tags)],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
        assert launched.returncode == 0, launched.stdout[-2000:] + launched.stderr[-3000:]
        lap("runs enqueued")
        os.environ.update({k: env[k] for k in env if k.startswith("DAGSTER_PG_")})
        try:
            with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
                records = wait_for_runs(instance, daemon, log)
                lap("runs finished")
                for r in records:
                    print(f"  run {r.dagster_run.tags['dagster/partition']}: {r.end_time - r.start_time:.1f}s")
                check_runs(instance, records)
        finally:
            for key in [k for k in os.environ if k.startswith("DAGSTER_PG_")]:
                os.environ.pop(key)
    finally:
        stop(daemon)
        lap("daemon stopped")

    conn = connect(pg, db)
    with conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where pipeline_name = 'daily_job' and status = 'SUCCESS'")
        assert cur.fetchone()[0] == len(DAYS)
        cur.execute("select count(distinct partition) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
                    " and asset_key = %s", (dg.AssetKey("metric_anomalies").to_string(),))
        assert cur.fetchone()[0] == len(DAYS)
    conn.close()
    assert not (home / "alerts" / "run_failures.jsonl").exists()  # the failure sensor saw no failed run


def check_runs(instance: dg.DagsterInstance, records) -> None:
    from ops_pipelines.definitions import defs

    runs = [r.dagster_run for r in records]
    failed = [(r.tags.get("dagster/partition"), r.status.value,
               sorted(s.step_key for s in instance.get_run_step_stats(r.run_id) if s.status and s.status.value == "FAILURE"))
              for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
    assert not failed, failed
    assert [r.tags["dagster/partition"] for r in runs] == DAYS
    # The CLI only enqueued them; a queued run is launched by nothing but the daemon's run queue.
    for run in runs:
        for event in (dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING):
            assert len(instance.get_records_for_run(run.run_id, of_type=event).records) == 1, (run.run_id, event)
    assert records[1].start_time >= records[0].end_time  # one at a time, in day order
    keys = defs.resolve_job_def("daily_job").asset_layer.selected_asset_keys
    missing = {k.to_user_string(): sorted(set(DAYS) - instance.get_materialized_partitions(k)) for k in keys}
    assert not {k: v for k, v in missing.items() if v}, missing
