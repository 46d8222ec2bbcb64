"""Run a day of `daily_job` with whatever executor `OPS_PIPELINES_EXECUTOR` picks, from a process of our own.

The job is passed to Dagster as a reconstructable pointer (this module's `daily_job`), so out-of-process
executors (multiprocess, Celery workers on other machines) can load it by import path.
"""

import dagster as dg

# Step events go to the instance's event log; the console shows warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def daily_job() -> dg.JobDefinition:
    """`daily_job` as the code location defines it (the target of `dg.reconstructable`)."""
    from ops_pipelines.definitions import defs

    return defs.resolve_job_def("daily_job")


def execute_day(instance: dg.DagsterInstance, day: str, assets: list[str] | None = None):
    """One day of `daily_job` (only `assets` when given) on `instance`; returns Dagster's execution result."""
    job = dg.reconstructable(daily_job)
    selection = [dg.AssetKey(a) for a in assets] if assets else None
    return dg.execute_job(job, instance, run_config=QUIET, tags={"dagster/partition": day}, asset_selection=selection,
                          raise_on_error=False)


def step_workers(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The Celery workers that executed steps of a run (dagster-celery's engine events name them); empty
    for runs on this machine's executors."""
    names = set()
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=100_000).records:
        data = record.event_log_entry.dagster_event.engine_event_data
        value = (data.metadata or {}).get("Celery worker") if data else None
        if value is not None:
            names.add(str(getattr(value, "value", value)))
    return names


def drive(days: list[str], select: str | None) -> dict:
    """Run the days one after another, oldest first, on `$DAGSTER_HOME`'s instance; what happened, with the
    runs' wall time (not process start) and this process's peak memory (Linux)."""
    import time

    from ops_pipelines.daily_runs import resolve_selection

    assets = resolve_selection(select)
    runs, wall, workers = [], 0.0, set()
    with dg.DagsterInstance.get() as instance:
        for day in days:
            t0 = time.perf_counter()
            result = execute_day(instance, day, assets)
            seconds = time.perf_counter() - t0
            wall += seconds
            runs.append({"day": day, "run_id": result.run_id, "success": result.success, "seconds": round(seconds, 2)})
            workers |= step_workers(instance, result.run_id)
            print(f"  {day}: {'ok' if result.success else 'FAILED'} in {seconds:.1f}s", flush=True)
    return {"wall_s": round(wall, 2), "runs": runs, "workers": max(1, len(workers)), "worker_names": sorted(workers),
            "driver_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's largest resident set so far (VmHWM), in MB. Not `ru_maxrss`: Linux keeps that across
    fork and exec, so a driver started by a big parent would report the parent's size."""
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    """`python -m ops_pipelines.distributed --out REPORT.json [--select S] DAY...`"""
    import argparse
    import json
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m ops_pipelines.distributed", description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--select", default=None, help="asset selection string (default: the whole daily job)")
    ap.add_argument("days", nargs="+")
    args = ap.parse_args(argv)
    report = drive(args.days, args.select)
    args.out.write_text(json.dumps(report, indent=1))
    return 0 if all(r["success"] for r in report["runs"]) else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
