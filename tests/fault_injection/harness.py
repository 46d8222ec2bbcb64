"""What the fault-injection tests share: a small world, a production instance on PostgreSQL, a daemon, the
run worker's pid, and snapshots of what a day wrote."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg

from tests.postgres import fresh_database

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-03-02"
# The AIOps chain: ingestion, three carried-state detectors, incidents. ~10 s a day on the small world.
SELECTION = "group:aiops"
DEADLINE_S = 300  # a timeout for waits, not a timing assertion


def small_world(landing: Path, tmp: Path, days: int = 1, first: dt.date = dt.date(2026, 3, 2)) -> None:
    """The sample world with one host per service and a sixth of the log lines: same graph, less data."""
    from ops_pipelines.lib.sim import simulate_world
    from ops_pipelines.settings import ASSETS_DIR

    cfg = json.loads((ASSETS_DIR / "sim" / "world.json").read_text())
    for spec in cfg["services"].values():
        spec["hosts"] = spec["hosts"][:1]
    cfg["logs"]["lines_per_weekday"] //= 6
    (tmp / "small_world.json").write_text(json.dumps(cfg))
    simulate_world(landing, first, days, seed=5, config_path=tmp / "small_world.json")


def production_env(tmp: Path, pg: dict, edit=lambda text: text) -> dict[str, str]:
    """The repository's dagster.yaml (after `edit`) on a fresh database, and the environment the CLI, the
    daemon and the run workers need; the data home is `tmp/home`."""
    text = edit((REPO / "dagster.yaml").read_text())
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(text)
    db = fresh_database(pg, "dagster_fault")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OPS_PIPELINES_HOME": str(tmp / "home"),
           "DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           **{f"DAGSTER_PG_{k.upper()}": v for k, v in {**pg, "db": db}.items()}}
    env.pop("OPS_PIPELINES_ALERT_WEBHOOK_URL", None)
    return env


@contextlib.contextmanager
def instance_for(env: dict[str, str]):
    """The instance `env` names, opened in this process (its dagster.yaml reads DAGSTER_PG_* from os.environ)."""
    keys = [k for k in env if k.startswith("DAGSTER_PG_")]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            yield instance
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def selection() -> list[str]:
    from ops_pipelines.daily_runs import resolve_selection

    return resolve_selection(SELECTION)


def wait(predicate, what: str, timeout: float = DEADLINE_S, poll: float = 0.5, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run is not None and run.is_finished else None


def events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [e.dagster_event for e in instance.all_logs(run_id, of_type=kind)]


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from its "Started process for run (pid: N)." event."""
    for event in events(instance, run_id, dg.DagsterEventType.ENGINE_EVENT):
        if (event.message or "").startswith("Started process for run (pid:"):
            return int(event.message.split("pid: ")[1].split(")")[0])
    return None


def day_files(home: Path, day: str = DAY) -> dict[str, bytes]:
    """Every file written for `day` under storage/ and state/ (Parquet partitions, state, lineage), by path."""
    found = {}
    for top in ("storage", "state"):
        for path in sorted((home / top).rglob(f"{day}.*")):
            if path.is_file():
                found[str(path.relative_to(home))] = path.read_bytes()
    return found


def unfinished_writes(home: Path) -> list[str]:
    """Temp files of writes that never reached their rename (a write killed mid-way)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob(".*.tmp"))


def drop_day(home: Path, day: str = DAY) -> None:
    for top in ("storage", "state"):
        for path in (home / top).rglob(f"{day}.*"):
            path.unlink()
