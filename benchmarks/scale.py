"""Scale benchmark: a world of N services through the AIOps part of `daily_job`, in-process and on Celery.

Usage: python benchmarks/scale.py --services N --days D --executor {in_process,celery,multiprocess} --json OUT
                                  [--workers 2] [--curve 20,200,2000] [--seed 7] [--workdir DIR]
                                  [--shards N] [--select SELECTION]

Simulates N services (copies of the shipped platform, 3 hosts each: 10 metrics at 1-minute resolution, logs
in proportion; ops_pipelines/lib/sim/scale.py) for D days, then runs every day through `daily_job` restricted
to `group:aiops` (ingestion, the three carried-state detectors, rollups, incidents), oldest first:
- in_process: one process, Dagster's in-process executor (the job's default);
- celery (also runs the in-process side, to compare): a redis-server of its own on 127.0.0.1 and
  `--workers` workers started with `dagster-celery worker start` (one pool process each), all stopped at the end;
- multiprocess (also runs the in-process side, to compare): Dagster's multiprocess executor, a process per step.
`--shards N` sets OPS_PIPELINES_SHARDS (metric ingestion, metric_anomalies and anomaly_rollups in N service shards, a step each) on
every side;
`--select` another asset selection (default group:aiops).
Each side has its own data home and Dagster instance (SQLite) over the same landing files; the numba cache is
shared and warmed first, so neither side pays the detector's compile. Writes
{"in_process": {...}, "celery": {...}, "outputs_identical": bool} (and "multiprocess": {...}, "shards": N) where each
side has points (metric points ingested), wall_s (the runs, not process start), points_per_s, peak_rss_mb (largest
process: the driver, a worker's pool process), workers (distinct processes that executed steps), metric_steps (per
step of metric ingestion, metric_anomalies and anomaly_rollups: wall_s; process_peak_rss_mb, the VmHWM of the step's own process under the multiprocess
executor; else reported_peak_rss_mb, what a shard step reports of the process that ran it, on the in-process side
the whole run's process). `outputs_identical` compares every
stored file (asset Parquet, detector state, lineage) byte for byte. Then prints the in-process scale curve for
`--curve` sizes (1 day each): seconds per million points and peak memory. Exit 1 if a run failed or outputs differ.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.celery_cluster: the one way this repo starts Redis and workers

SELECTION = "group:aiops"
START = dt.date(2026, 3, 2)


def simulate(work: Path, services: int, days: int, seed: int) -> Path:
    """The scaled world's landing zone under `work` (simulated once per size and reused), in a process of its own
    so its memory (a day of every series) is given back before anything is measured."""
    from ops_pipelines.lib.sim.scale import write_scaled_config

    landing = work / f"world_{services}_{days}_{seed}" / "landing"
    if not (landing.parent / "done").exists():
        config = write_scaled_config(landing.parent / "world.json", services)
        print(f"simulating {services} services x {days} day(s) ...", flush=True)
        t0 = time.perf_counter()
        code = ("import datetime as dt, sys; from ops_pipelines.lib.sim import simulate_world; "
                "simulate_world(sys.argv[1], dt.date.fromisoformat(sys.argv[2]), int(sys.argv[3]), seed=int(sys.argv[4]), "
                "config_path=sys.argv[5])")
        subprocess.run([sys.executable, "-c", code, str(landing), START.isoformat(), str(days), str(seed), str(config)],
                       check=True)
        (landing.parent / "done").write_text(f"{time.perf_counter() - t0:.1f}")
    return landing


def side_env(work: Path, name: str, landing: Path) -> dict[str, str]:
    """A data home and embedded Dagster instance of its own; the numba cache shared by every side."""
    import shutil

    from tests.celery_cluster import isolated_env

    shutil.rmtree(work / name, ignore_errors=True)
    env = isolated_env(work / name, landing)
    env["NUMBA_CACHE_DIR"] = os.environ.get("NUMBA_CACHE_DIR") or str(work / "numba_cache")
    return env


def warm_numba(env: dict[str, str]) -> None:
    code = ("import pandas as pd; from ops_pipelines.lib.aiops.anomalies import score_metrics; "
            "t = pd.date_range('2026-03-02', periods=30, freq='min', tz='UTC'); "
            "score_metrics(pd.DataFrame({'timestamp': t, 'service': 's', 'metric': 'm', 'host': 'h', 'value': 1.0}))")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


class PeakSampler:
    """Largest VmHWM seen among the given process trees, sampled twice a second and once at the end."""

    def __init__(self, roots):
        self.roots, self.peak, self._stop = roots, 0.0, threading.Event()
        self.by_pid: dict[int, float] = {}  # each process's own VmHWM (a multiprocess step's process is one)
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        from tests.celery_cluster import peak_rss_mb, process_tree

        for root in self.roots():
            for pid in process_tree(root):
                mb = peak_rss_mb(pid)
                self.peak = max(self.peak, mb)
                self.by_pid[pid] = max(self.by_pid.get(pid, 0.0), mb)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def run_side(env: dict[str, str], days: list[str], work: Path, extra_roots=lambda: []) -> dict:
    """Run the days in a driver process (`python -m ops_pipelines.distributed`); its report plus the peak memory."""
    from tests.celery_cluster import drive

    out = work / "driver.json"
    proc = drive(env, days, out, SELECTION, wait=False)
    with PeakSampler(lambda: [proc.pid, *extra_roots()]) as peak:
        proc.wait()
    if not out.exists():  # a failed run still writes its report (exit 1); no report: the driver itself broke
        raise RuntimeError(f"the driver failed (exit {proc.returncode}) before reporting")
    report = json.loads(out.read_text())
    report["peak_rss_mb"] = round(max(peak.peak, report.pop("driver_rss_mb")), 1)
    report["pid_peaks"] = peak.by_pid
    return report


def metric_points(home: Path, days: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(home / "storage" / "telemetry_metrics" / f"{d}.parquet").metadata.num_rows for d in days)


def stored_files(home: Path) -> dict[str, str]:
    """Every file a run stored (asset data, detector state and its lineage) -> SHA-256."""
    out = {}
    for top in ("storage", "state"):
        for path in sorted((home / top).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                out[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def side_summary(report: dict, points: int, env: dict[str, str] | None = None) -> dict:
    wall = report["wall_s"]
    out = {"points": points, "wall_s": wall, "points_per_s": round(points / wall, 1) if wall else None,
           "peak_rss_mb": report["peak_rss_mb"], "workers": report["workers"],
           "runs_ok": all(r["success"] for r in report["runs"])}
    if env is not None:
        out["metric_steps"] = metric_steps(env, [r["run_id"] for r in report["runs"]], report.get("pid_peaks", {}))
    return out


SHARDED = ("ingest_telemetry_metrics", "metric_anomalies", "anomaly_rollups")  # what OPS_PIPELINES_SHARDS splits into steps


def metric_steps(env: dict[str, str], run_ids: list[str], pid_peaks: dict[int, float]) -> dict[str, dict]:
    """Per step of metric ingestion, metric_anomalies and anomaly_rollups (one step each, or their shards' steps): wall seconds (start to success, summed
    over the days) and, when the step ran in a process of its own (multiprocess executor), that process's VmHWM
    as sampled (else the `process_peak_rss_mb` a shard's outputs report, that of the process that ran it)."""
    import dagster as dg

    from tests.fault_injection.harness import instance_for

    steps: dict[str, dict] = {}
    with instance_for(env) as instance:
        for run_id in run_ids:
            started = {}
            for entry in instance.all_logs(run_id):
                key, event = entry.step_key, entry.dagster_event
                if not key or key.split(".")[0] not in SHARDED or event is None:
                    continue
                step = steps.setdefault(key, {"wall_s": 0.0})
                if event.event_type == dg.DagsterEventType.STEP_WORKER_STARTED:
                    pid = int(event.event_specific_data.metadata["pid"].value)
                    if pid in pid_peaks:
                        step["process_peak_rss_mb"] = round(pid_peaks[pid], 1)
                elif event.event_type == dg.DagsterEventType.STEP_START:
                    started[key] = entry.timestamp
                elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and key in started:
                    step["wall_s"] = round(step["wall_s"] + entry.timestamp - started[key], 2)
                elif event.event_type == dg.DagsterEventType.STEP_OUTPUT and "process_peak_rss_mb" not in step:
                    peak = event.step_output_data.metadata.get("process_peak_rss_mb")
                    if peak is not None:
                        step["reported_peak_rss_mb"] = max(step.get("reported_peak_rss_mb", 0.0), float(peak.value))
    return dict(sorted(steps.items()))


def in_process(work: Path, landing: Path, days: list[str], name: str = "in_process") -> tuple[dict, Path]:
    env = side_env(work, name, landing)
    report = run_side(env, days, work / name)
    home = Path(env["OPS_PIPELINES_HOME"])
    return side_summary(report, metric_points(home, days) if all(r["success"] for r in report["runs"]) else 0, env), home


def multiprocess(work: Path, landing: Path, days: list[str]) -> tuple[dict, Path]:
    """Dagster's multiprocess executor: every step in a process of its own (the shards of metric_anomalies too)."""
    from ops_pipelines.defs.executors import EXECUTOR_ENV

    env = {**side_env(work, "multiprocess", landing), EXECUTOR_ENV: "multiprocess"}
    report = run_side(env, days, work / "multiprocess")
    home = Path(env["OPS_PIPELINES_HOME"])
    return side_summary(report, metric_points(home, days) if all(r["success"] for r in report["runs"]) else 0, env), home


def celery(work: Path, landing: Path, days: list[str], count: int) -> tuple[dict, Path]:
    from tests.celery_cluster import celery_env, celery_workers, redis_server

    with redis_server() as url:
        env = celery_env(side_env(work, "celery", landing), url)
        with celery_workers(env, count, work / "celery") as workers:
            report = run_side(env, days, work / "celery", extra_roots=lambda: [p.pid for p in workers.procs])
    home = Path(env["OPS_PIPELINES_HOME"])
    summary = side_summary(report, metric_points(home, days) if all(r["success"] for r in report["runs"]) else 0, env)
    summary["worker_names"] = report["worker_names"]
    return summary, home


def curve(work: Path, sizes: list[int], seed: int, known: dict[int, dict]) -> list[dict]:
    rows = []
    for n in sizes:
        side = known.get(n)
        if side is None:
            side, _ = in_process(work, simulate(work, n, 1, seed), [START.isoformat()], name=f"curve_{n}")
        per_m = side["wall_s"] / (side["points"] / 1e6) if side["points"] else None
        rows.append({"services": n, "points": side["points"], "wall_s": side["wall_s"],
                     "s_per_million_points": round(per_m, 2) if per_m else None, "peak_rss_mb": side["peak_rss_mb"]})
        print(f"curve: {n:>5} services  {side['points']:>11,} points  {side['wall_s']:8.1f} s  "
              f"{rows[-1]['s_per_million_points']} s/M points  peak {side['peak_rss_mb']:.0f} MB", flush=True)
    return rows


def shard_setting() -> int:
    from ops_pipelines.settings import shard_count

    return shard_count()


def main(argv: list[str] | None = None) -> int:
    global SELECTION  # run_side reads it; --select replaces it
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--executor", choices=("in_process", "celery", "multiprocess"), default="in_process")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--curve", default="20,200,2000", help="comma-separated service counts, or 'none'")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the worlds and homes here (default: a temp dir)")
    ap.add_argument("--shards", type=int, default=None, help="OPS_PIPELINES_SHARDS for every side (default: as set)")
    ap.add_argument("--select", default=SELECTION, help=f"asset selection (default {SELECTION})")
    args = ap.parse_args(argv)
    SELECTION = args.select
    if args.shards is not None:
        from ops_pipelines.settings import SHARDS_ENV

        os.environ[SHARDS_ENV] = str(args.shards)  # every side's environment starts from this one
    if args.executor == "celery":
        from tests.celery_cluster import redis_missing

        missing = redis_missing()
        if missing:
            print(f"cannot run --executor celery: {missing}", file=sys.stderr)
            return 2
        if args.workers < 2:
            print("--workers must be at least 2 for --executor celery", file=sys.stderr)
            return 2
    sizes = [] if args.curve.strip() in ("", "none") else [int(s) for s in args.curve.split(",")]
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ops_scale_")))
        work.mkdir(parents=True, exist_ok=True)
        landing = simulate(work, args.services, args.days, args.seed)
        days = [(START + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
        warm_numba(side_env(work, "warmup", landing))
        print(f"in-process: {args.services} services, {len(days)} day(s)", flush=True)
        inproc, inproc_home = in_process(work, landing, days)
        result: dict = {"services": args.services, "days": args.days, "selection": SELECTION, "in_process": inproc,
                        "shards": shard_setting(),
                        "celery": None, "outputs_identical": None}
        if args.executor == "multiprocess":
            print("multiprocess: a process per step", flush=True)
            mp, mp_home = multiprocess(work, landing, days)
            a, b = stored_files(inproc_home), stored_files(mp_home)
            result["multiprocess"] = mp
            result["outputs_identical"] = bool(a) and a == b
            result["files_compared"] = len(a)
            result["differing_files"] = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:20]
        if args.executor == "celery":
            print(f"celery: {args.workers} workers on a redis-server of its own", flush=True)
            cel, cel_home = celery(work, landing, days, args.workers)
            a, b = stored_files(inproc_home), stored_files(cel_home)
            result["celery"] = cel
            result["outputs_identical"] = bool(a) and a == b
            result["files_compared"] = len(a)
            result["differing_files"] = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:20]
            if inproc["points_per_s"] and cel["points_per_s"]:
                result["celery_over_in_process"] = round(cel["points_per_s"] / inproc["points_per_s"], 3)
        known = {args.services: inproc} if args.days == 1 else {}
        result["curve"] = curve(work, sizes, args.seed, known) if sizes else []
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result.get(k) for k in ("in_process", "celery", "multiprocess", "outputs_identical")}, indent=2))
    other = result.get(args.executor) if args.executor != "in_process" else None
    ok = inproc["runs_ok"] and (other is None or (other["runs_ok"] and result["outputs_identical"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
