"""The daily graph over a range of days on the instance: `ops-pipelines run` and the demo share it.

Each day's `daily_job` run is submitted to the instance's queue, as the nightly schedule submits it,
and a Dagster daemon dequeues it and ticks the sensors (retraining included). Days run one after
another, oldest first: the detectors carry their state from each day into the next.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

DAILY_JOB = "daily_job"
RETRAINING_JOB = "retraining_job"
RETRAINING_SENSOR = "retraining_sensor"
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class DayOutcome:
    """How one day's run ended, as the instance recorded it."""

    day: str
    run_id: str
    status: str  # SUCCESS, FAILURE or CANCELED
    seconds: float
    retraining: str = ""  # the retraining runs the sensor launched for the day, if any
    error: str = ""  # the first failed step and its error, for a day that did not succeed


def day_range(first: dt.date, last: dt.date) -> list[str]:
    """Every day from `first` to `last`, both included, as partition keys."""
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def run_days(instance, days: list[str], env: dict[str, str], logs: Path, out: TextIO, trigger: str,
             done: list[DayOutcome] | None = None) -> list[DayOutcome]:
    """Run `daily_job` for each day in order with a daemon of our own; print one progress line a day.

    A day that fails does not stop the rest (its error is in its outcome). `trigger` is the
    `ops/trigger` tag the runs carry, so the UI shows who started them. Outcomes are appended to
    `done` as days finish, so a caller still has them if a later day raises (daemon died, timeout).
    """
    import dagster as dg

    from ops_pipelines import runner

    # Create the SQLite schemas here, before the daemon and the CLI open them at the same time.
    instance.get_runs(limit=1)
    instance.all_instigator_state()
    instance.get_latest_materialization_event(dg.AssetKey("drift_report"))
    logs.mkdir(parents=True, exist_ok=True)
    daemon = runner.start_daemon(env, logs / "dagster-daemon.log")
    outcomes = done if done is not None else []
    try:
        for i, day in enumerate(days):
            t0 = time.perf_counter()
            run_id = runner.launch_run(DAILY_JOB, day, {"ops/trigger": trigger}, env)
            status = runner.wait_for(lambda run_id=run_id: runner.finished_status(instance, run_id), RUN_TIMEOUT_S,
                                     f"the {day} run", daemon)
            retrained = retraining_note(instance, day, daemon)
            error = "" if status == "SUCCESS" else runner.failure_reason(instance, run_id)
            outcomes.append(DayOutcome(day, run_id, status, time.perf_counter() - t0, retrained, error))
            bar = "#" * (i + 1) + "." * (len(days) - i - 1)
            note = f"; retraining: {retrained}" if retrained else ""
            note += f"; {error}" if error else ""
            print(f"[{bar}] {i + 1:>2}/{len(days)} {day} {status.lower()} in {outcomes[-1].seconds:.0f}s{note}",
                  file=out, flush=True)
    finally:
        runner.stop_process(daemon)
    return outcomes


def retraining_note(instance, day: str, daemon) -> str:
    """Wait for the retraining sensor to read the day's drift report and its runs to finish; say what ran.

    Nothing to wait for when the sensor was stopped on this instance (in the UI)."""
    from ops_pipelines import runner

    if runner.sensor_stopped(instance, RETRAINING_SENSOR):
        return ""
    launched = runner.await_sensor_runs(instance, "drift_report", day, RETRAINING_SENSOR, RETRAINING_JOB, daemon, RUN_TIMEOUT_S)
    return ", ".join(f"{r.tags.get('dagster/partition/model')} ({r.tags.get('ops/trigger')}, {r.status.value.lower()})"
                     for r in launched)


def print_outcomes(outcomes: list[DayOutcome], out: TextIO) -> None:
    """The final per-day table: day, status, seconds, run id (to find the run in the UI), error."""
    print("\nPer day", file=out)
    for o in outcomes:
        print(f"  {o.day}  {o.status.lower():<8} {o.seconds:>5.0f}s  run {o.run_id}" + (f"  {o.error}" if o.error else ""),
              file=out)


def check_days(first: dt.date, last: dt.date, landing: Path) -> tuple[list[str], list[str]]:
    """The days to run and the days among them without a landing file; raises ValueError when the
    range cannot run (reversed, outside the daily partitions, nothing landed at all)."""
    from ops_pipelines.defs.partitions import daily_partitions
    from ops_pipelines.lib.ingest.landing import KINDS, partition_files

    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    start = daily_partitions.start.date()
    if first < start:
        raise ValueError(f"{first} is before the first daily partition {start} (set OPS_PIPELINES_PARTITION_START "
                         "to an earlier day, also for the UI and the daemon)")
    newest = daily_partitions.get_last_partition_key()
    if newest is None or last.isoformat() > newest:
        raise ValueError(f"{last} has not ended yet (UTC): the last day that can run is {newest}")
    days = day_range(first, last)
    empty = [d for d in days if not any(partition_files(landing, kind, d) for kind in KINDS)]
    if len(empty) == len(days):
        raise ValueError(f"no landing files for any day from {first} to {last} under {landing}; "
                         "files go to <landing>/<kind>/<YYYY-MM-DD>/ (kinds: " + ", ".join(KINDS) + ")")
    return days, empty
