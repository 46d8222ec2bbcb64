"""Nightly benchmark: one daily partition of the default sample world through `daily_job` on the
production instance (the repository's dagster.yaml on PostgreSQL, run queue, dagster-daemon), MLflow
on the same server. Target: median of 3 under 90 s.

Usage: python benchmarks/nightly.py [--days 7] [--repeats 3] [--warmup daemon|inprocess]
                                    [--embeddings-runs 0] [--profile 0] [--json OUT] [--workdir DIR]

Set-up: PostgreSQL from tests/postgres.py (OPS_TEST_PG_* when set, else a throwaway server), fresh
databases `dagster_bench` and `mlflow_bench`, a DAGSTER_HOME holding the repo's dagster.yaml, the default
world (seed 7) for `--days` days. Warm-up: days 1..N-1 through `daily_job`, either submitted to the
queue like production (`daemon`) or executed in this process on the same instance (`inprocess`);
the daemon runs in both cases, so the retraining sensor launches its runs after each day's drift
report, and we wait for them (they are not timed). Measured: the last day's run submitted to the
queue `--repeats` times, one after the other; the daemon starts each in a fresh process, as the
nightly schedule would. `OPS_PIPELINES_EMBEDDINGS=0` (the README install) unless `--embeddings-runs`
asks for extra runs with the embeddings extra (daemon restarted with it on). `--profile K` reruns the
K slowest steps alone in a fresh process under `-X importtime`: imports vs first-call vs warm compute.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.postgres: the one way this repo starts a throwaway server

from ops_pipelines import runner  # noqa: E402 (after the sys.path line above)
from tests.postgres import postgres_server  # noqa: E402

TARGET_S = 90.0
RUN_TIMEOUT_S = 900
DATABASES = ("dagster_bench", "mlflow_bench")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # in-process runs: no event log on stdout
RUN_EVENTS = ("RUN_ENQUEUED", "RUN_DEQUEUED", "RUN_STARTING", "RUN_START", "RUN_SUCCESS", "RUN_FAILURE")


def fresh_databases(pg: dict[str, str]) -> None:
    import psycopg2

    conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], dbname=pg["db"])
    conn.autocommit = True
    with conn.cursor() as cur:
        for db in DATABASES:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


def bench_env(pg: dict[str, str], work: Path, embeddings: bool) -> dict[str, str]:
    from urllib.parse import quote

    auth = quote(pg["user"]) + (":" + quote(pg["password"]) if pg["password"] else "")
    env = {**os.environ, "DAGSTER_HOME": str(work / "dagster_home"), "OPS_PIPELINES_HOME": str(work / "ops_home"),
           "DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "OPS_MLFLOW_TRACKING_URI": f"postgresql://{auth}@{pg['host']}:{pg['port']}/mlflow_bench",
           "OPS_PIPELINES_EMBEDDINGS": "1" if embeddings else "0",
           **{f"DAGSTER_PG_{k.upper()}": v for k, v in {**pg, "db": "dagster_bench"}.items()}}
    env.pop("OPS_PIPELINES_ALERT_WEBHOOK_URL", None)  # never post benchmark alerts anywhere
    return env


def await_retraining(instance, day: str, daemon) -> list[str]:
    """Let the retraining sensor read the day's newest drift report and the runs it launched finish."""
    runs = runner.await_sensor_runs(instance, "drift_report", day, "retraining_sensor", "retraining_job", daemon, RUN_TIMEOUT_S)
    return [f"{r.tags.get('dagster/partition/model')}:{r.status.value.lower()}" for r in runs]


def warm_up(days: list[str], mode: str, env: dict[str, str], instance, daemon) -> None:
    job = None
    if mode == "inprocess":
        from ops_pipelines.definitions import defs

        job = defs.resolve_job_def("daily_job")
    for day in days:
        t0 = time.perf_counter()
        if job is not None:
            result = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False, run_config=QUIET,
                                            tags={"ops/trigger": "benchmark-warmup"})
            status = "SUCCESS" if result.success else "FAILURE"
        else:
            run_id = runner.launch_run("daily_job", day, {"ops/trigger": "benchmark-warmup"}, env)
            status = runner.wait_for(lambda r=run_id: runner.finished_status(instance, r), RUN_TIMEOUT_S, f"warm-up {day}", daemon)
        t1 = time.perf_counter()
        retrained = await_retraining(instance, day, daemon)
        print(f"  warm-up {day}: {status.lower()} in {t1 - t0:.0f} s; retraining {retrained or 'none'} "
              f"+{time.perf_counter() - t1:.0f} s", flush=True)
        if status != "SUCCESS":
            raise RuntimeError(f"warm-up run for {day} failed: see the run in {env['DAGSTER_HOME']}")


def measure(instance, day: str, env: dict[str, str], daemon, label: str) -> dict:
    """One queued run of `day`: wall times, run-phase boundaries from the event log, step durations."""
    import dagster as dg

    runner.wait_for(lambda: not runner.active_runs(instance, "daily_job") and not runner.active_runs(instance, "retraining_job"),
                    RUN_TIMEOUT_S, "an idle queue", daemon)
    load0 = os.getloadavg()[0]
    t0 = time.time()
    run_id = runner.launch_run("daily_job", day, {"ops/trigger": "benchmark"}, env)
    t_submitted = time.time()
    status = runner.wait_for(lambda: runner.finished_status(instance, run_id), RUN_TIMEOUT_S, f"the {day} run", daemon, poll=0.2)
    t_done = time.time()
    record = instance.get_run_record_by_id(run_id)
    events: dict[str, float] = {}
    for rec in instance.get_records_for_run(run_id, of_type={dg.DagsterEventType[e] for e in RUN_EVENTS}).records:
        events.setdefault(rec.event_log_entry.dagster_event.event_type.name, rec.event_log_entry.timestamp)
    steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time}
    starts = [s.start_time for s in instance.get_run_step_stats(run_id) if s.start_time]
    ends = [s.end_time for s in instance.get_run_step_stats(run_id) if s.end_time]
    end_event = events.get("RUN_SUCCESS") or events.get("RUN_FAILURE") or t_done
    created = record.create_timestamp.timestamp()
    phases = {
        "submit_cli": t_submitted - t0,  # `dagster job launch` loads the code location: not paid by the schedule
        "queue_wait": events.get("RUN_STARTING", created) - created,
        "launch_load": events["RUN_START"] - events.get("RUN_STARTING", created),  # new process + code location import
        "setup": min(starts) - events["RUN_START"],  # run start -> first step start (resources, executor)
        "steps": max(ends) - min(starts),
        "teardown": end_event - max(ends),
    }
    return {"label": label, "run_id": run_id, "status": status, "wall_submit_to_finish": t_done - t0,
            "wall_queued_to_finish": end_event - created, "run_start_to_end": record.end_time - record.start_time,
            "phases": phases, "steps": steps, "load_before": load0, "load_after": os.getloadavg()[0]}


def report(results: list[dict]) -> None:
    cols = ["wall_submit_to_finish", "wall_queued_to_finish", "run_start_to_end"]
    phases = list(results[0]["phases"])
    print(f"\n{'run':<12}{'status':<9}" + "".join(f"{c:>24}" for c in cols) + "  load")
    for r in results:
        print(f"{r['label']:<12}{r['status'].lower():<9}" + "".join(f"{r[c]:>23.1f}s" for c in cols)
              + f"  {r['load_before']:.1f}->{r['load_after']:.1f}")
    print("\nphases (s)  " + "".join(f"{p:>13}" for p in phases))
    for r in results:
        print(f"{r['label']:<12}" + "".join(f"{r['phases'][p]:>13.1f}" for p in phases))
    base = [r for r in results if not r["label"].startswith("embed")]
    extra = [r for r in results if r["label"].startswith("embed")]
    steps = sorted({k for r in results for k in r["steps"]})
    med = {k: statistics.median(r["steps"].get(k, 0.0) for r in base) for k in steps}
    total = sum(med.values())
    print(f"\n{'step (asset), README runs':<34}{'median s':>10}{'min':>8}{'max':>8}{'share':>8}"
          + "".join(f"{r['label']:>10}" for r in extra))
    for k in sorted(steps, key=med.get, reverse=True):
        vals = [r["steps"].get(k, 0.0) for r in base]
        print(f"{k:<34}{med[k]:>10.2f}{min(vals):>8.2f}{max(vals):>8.2f}{med[k] / total:>8.0%}"
              + "".join(f"{r['steps'].get(k, 0.0):>10.2f}" for r in extra))
    print(f"{'sum of step medians':<34}{total:>10.2f}" + " " * 24
          + "".join(f"{sum(r['steps'].values()):>10.2f}" for r in extra))


PROFILE = r"""
import json, sys, time
from pathlib import Path
import dagster as dg
import pandas, numpy, pyarrow  # loaded by the ingestion steps before any of the steps profiled here
from ops_pipelines.definitions import defs
step, day = sys.argv[1], sys.argv[2]
job = defs.resolve_job_def("daily_job")
keys = [k for ad in job.asset_layer.asset_graph.assets_defs if ad.is_executable and ad.op.name == step for k in ad.keys]
out = {}
with dg.DagsterInstance.get() as instance:
    for phase in ("cold", "warm"):
        print(f"@@{phase}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        res = job.execute_in_process(partition_key=day, instance=instance, asset_selection=keys, raise_on_error=False,
                                  run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        out[phase] = time.perf_counter() - t0
        out[phase + "_step"] = sum(s.end_time - s.start_time for s in instance.get_run_step_stats(res.run_id) if s.end_time)
    print("@@end", file=sys.stderr, flush=True)
    import cProfile, pstats  # a third run under the profiler: which of our functions the warm time goes to
    prof = cProfile.Profile()
    prof.runcall(job.execute_in_process, partition_key=day, instance=instance, asset_selection=keys, raise_on_error=False,
                 run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
stats = pstats.Stats(prof).stats
ours = [(f"{Path(f).name}:{fn}", ct) for (f, _, fn), (_, _, _, ct, _) in stats.items() if "/ops_pipelines/lib/" in f]
out["hot"] = {k: round(v, 2) for k, v in sorted(ours, key=lambda kv: -kv[1])[:8]}
print(json.dumps(out))
"""


def profile_step(step: str, day: str, env: dict[str, str]) -> dict:
    """Imports (from -X importtime, top-level imports made while the step ran) vs first-call vs warm compute."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", PROFILE, step, day], env=env,
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return {"step": step, "error": res.stderr.strip()[-1500:]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    phase, imports, modules = None, {"cold": 0.0, "warm": 0.0}, {}
    for line in res.stderr.splitlines():
        if line.startswith("@@"):
            phase = line[2:]
        elif phase in imports and line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if name.startswith(" ") and not name.startswith("  "):  # depth 0: imported by our code, not by a module
                us = float(cumulative.strip())
                imports[phase] += us / 1e6
                top = name.strip().split(".")[0]
                modules[top] = modules.get(top, 0.0) + us / 1e6
    heavy = sorted(modules.items(), key=lambda kv: -kv[1])[:5]
    return {"step": step, **out, "imports_cold": imports["cold"], "imports_warm": imports["warm"],
            "top_imports": {k: round(v, 2) for k, v in heavy}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", choices=("daemon", "inprocess"), default="daemon")
    parser.add_argument("--embeddings-runs", type=int, default=0, help="extra measured runs with embeddings on")
    parser.add_argument("--profile", type=int, default=0, help="profile the K slowest steps afterwards")
    parser.add_argument("--json", default=None, help="write all measurements here")
    parser.add_argument("--workdir", default=None, help="default: a temp dir, removed at the end")
    args = parser.parse_args()
    # SIGTERM must unwind through the finally blocks: they stop the daemon and the PostgreSQL server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ops_nightly_"))
    try:
        run(args, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    import datetime as dt

    from ops_pipelines.lib.sim import DEFAULT_START, simulate_world

    days = [(DEFAULT_START + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
    os.chdir(work)  # MLflow and the Dagster CLI write nothing into the checkout
    t0 = time.perf_counter()
    with postgres_server() as pg:
        fresh_databases(pg)
        env = bench_env(pg, work, embeddings=False)
        (work / "dagster_home").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
        os.environ.update(env)  # this process opens the same instance (and runs the in-process warm-up)
        import dagster as dg

        summary = simulate_world(work / "ops_home" / "landing", DEFAULT_START, args.days, seed=7)
        from ops_pipelines.lib.platform.home import init_home

        init_home(work / "ops_home")  # the MLflow store on mlflow_bench: runs never create one
        print(f"PostgreSQL {pg['host']}:{pg['port']}; world {days[0]}..{days[-1]} simulated in "
              f"{time.perf_counter() - t0:.0f} s (rows {summary.rows})", flush=True)
        results: list[dict] = []
        daemon = runner.start_daemon(env, work / "daemon.log")
        try:
            with dg.DagsterInstance.get() as instance:
                t1 = time.perf_counter()
                warm_up(days[:-1], args.warmup, env, instance, daemon)
                print(f"warm-up ({args.warmup}) of {len(days) - 1} days: {time.perf_counter() - t1:.0f} s", flush=True)
                for i in range(args.repeats):
                    results.append(measure(instance, days[-1], env, daemon, f"lexical-{i + 1}"))
                    late = await_retraining(instance, days[-1], daemon)
                    r = results[-1]
                    print(f"  measured {r['label']}: {r['status'].lower()} {r['wall_queued_to_finish']:.1f} s queued->finished; "
                          f"retraining runs for {days[-1]} so far (not timed): {late or 'none'}", flush=True)
                if args.embeddings_runs:
                    runner.stop_process(daemon)
                    env = bench_env(pg, work, embeddings=True)
                    daemon = runner.start_daemon(env, work / "daemon.log")
                    for i in range(args.embeddings_runs):
                        results.append(measure(instance, days[-1], env, daemon, f"embed-{i + 1}"))
                        await_retraining(instance, days[-1], daemon)
                lexical = [r for r in results if r["label"].startswith("lexical")]
                report(results)
                med = statistics.median(r["wall_queued_to_finish"] for r in lexical)
                print(f"\nmedian of {len(lexical)} (queued -> finished, README install): {med:.1f} s; "
                      f"target {TARGET_S:.0f} s: {'met' if med < TARGET_S else 'MISSED'}")
                profiles = []
                if args.profile:
                    steps = {k for r in lexical for k in r["steps"]}
                    slow = sorted(steps, key=lambda k: -statistics.median(r["steps"].get(k, 0.0) for r in lexical))
                    for step in slow[: args.profile]:
                        profiles.append(profile_step(step, days[-1], bench_env(pg, work, embeddings=False)))
                        print_profile(profiles[-1])
        finally:
            runner.stop_process(daemon)
        if args.json:
            Path(args.json).write_text(json.dumps({"days": days, "warmup": args.warmup, "runs": results,
                                                   "profiles": profiles}, indent=1, sort_keys=True))


def print_profile(p: dict) -> None:
    if "error" in p:
        print(f"profile {p['step']}: failed: {p['error']}")
        return
    first_call = p["cold_step"] - p["imports_cold"] - p["warm_step"]
    print(f"profile {p['step']}: cold step {p['cold_step']:.1f} s = imports {p['imports_cold']:.1f} s "
          f"+ warm compute {p['warm_step']:.1f} s + first-call rest {first_call:.1f} s (negative: noise)\n"
          f"    top imports {p['top_imports']}\n    warm, cumulative s in ops_pipelines.lib (cProfile) {p.get('hot')}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
