"""`ops-pipelines`: simulate the sample world, run the demo, start the UI.

The parser and the small commands live here; the larger commands have a module each in this package
(demo, llm_eval, drift, datasets, explain), imported only when their command runs so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from pathlib import Path

from ops_pipelines import settings

DEFAULT_DAYS = 14
DEFAULT_SEED = 7
INSTANCE_YAML = """\
# Embedded instance written by `ops-pipelines`: SQLite storage under this folder.
telemetry:
  enabled: false
nux:  # the "Join the Dagster community" modal, shown once per browser: accepted for the instance
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2  # two cores: a day beside one retraining run or HTML pages (more only fight for them)
    dequeue_interval_seconds: 1  # the demo submits runs one after another: pick them up at once
    tag_concurrency_limits:  # two runs of the same day wait for each other (same partitions, same state files)
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
run_retries:  # a run whose worker crashed runs again from the failure (a failed check or bad data does not)
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""


def prepare_embedded_instance() -> Path:
    """Point DAGSTER_HOME at the data dir's embedded instance (created on first use)."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return Path(os.environ["DAGSTER_HOME"])


def cmd_simulate(args: argparse.Namespace) -> int:
    from ops_pipelines.lib.sim import simulate_world

    summary = simulate_world(Path(args.out), args.start, args.days, seed=args.seed)
    for key, value in summary.to_dict().items():
        print(f"{key}: {value}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Exit 0: every day succeeded; 1: some day did not; 130: stopped (Ctrl-C, SIGTERM), with everything it
    started (daemon, code servers, run workers) stopped and its unfinished runs marked canceled."""
    from ops_pipelines import runner
    from ops_pipelines.cli.demo import run_demo

    prepare_embedded_instance()
    try:
        with runner.owned_children():
            return run_demo(days=args.days, start=args.start, seed=args.seed, out=sys.stdout)
    except KeyboardInterrupt as exc:
        print(f"\ndemo stopped ({exc or 'SIGINT'}); its daemon, code servers and runs were stopped", file=sys.stderr)
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    """The daily graph (or an asset selection of it) over a range of days of the data home's landing zone, one
    day after another; later days whose carried state the range replaced are re-run after it.
    Exit 0: every day succeeded; 1: some day did not; 2: nothing ran."""
    if args.first is None or args.last is None:
        print("error: --start and --end are required (YYYY-MM-DD)", file=sys.stderr)
        return 2
    if args.home:
        os.environ[settings.HOME_ENV] = str(Path(args.home).resolve())
    from ops_pipelines import daily_runs

    landing = settings.landing_dir()
    try:
        days, empty = daily_runs.check_days(args.first, args.last, landing)
        run_config = daily_runs.aiops_run_config(args.topology, args.runbooks)
        assets = daily_runs.resolve_selection(args.select)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if assets is None or "drift_report" in assets:
        # Checked now, not as the same error in every day's drift_report step.
        from ops_pipelines.lib.mlops.registry_store import RegistryLocation, RegistryStoreError, open_registry

        try:
            open_registry(RegistryLocation.of_home(settings.data_home()))
        except RegistryStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    import dagster as dg

    home = prepare_embedded_instance()
    env = {**os.environ, "DAGSTER_HOME": str(home), settings.HOME_ENV: str(settings.data_home())}
    logs, state = settings.data_home() / "logs", settings.data_home() / "state"
    what = "daily_job" if assets is None else f"daily_job, {len(assets)} asset(s) of it ({args.select})"
    print(f"{what} for {len(days)} day(s), {days[0]} to {days[-1]}, over {landing} (instance {home}; "
          f"daemon log {logs / 'dagster-daemon.log'})", flush=True)
    for day in empty:
        print(f"note: no landing files for {day}: its partitions will be empty", file=sys.stderr, flush=True)
    for day, why in daily_runs.stale_later(state, daily_runs.carried_folders(assets), "").items():
        if day < days[0]:
            print(f"note: {day} is stale ({why}); days after it continue from it", file=sys.stderr, flush=True)
    outcomes: list = []
    from ops_pipelines import runner

    try:
        with runner.owned_children(), dg.DagsterInstance.get() as instance:
            outcomes = daily_runs.run_days(instance, days, env, logs, sys.stdout, trigger="cli", done=outcomes,
                                           assets=assets, run_config=run_config, state_root=state)
    except KeyboardInterrupt:
        print(f"interrupted after {len(outcomes)} of {len(days)} day(s)", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:  # a run could not be submitted, the daemon died, a run hung
        print(f"error: {exc}", file=sys.stderr)
    daily_runs.print_outcomes(outcomes, sys.stdout)
    ran = {o.day for o in outcomes}
    failed = [o.day for o in outcomes if o.status != "SUCCESS"] + [d for d in days if d not in ran]
    if failed:
        print(f"{len(set(failed))} day(s) did not succeed; once fixed, rerun from the first: "
              f"ops-pipelines run --start {min(failed)} --end {max([*failed, days[-1]])}", file=sys.stderr)
        return 1
    print("Latest health report: ops-pipelines status; runs and assets: ops-pipelines ui")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Create the data home's stores: folders, the embedded Dagster instance, the MLflow registry store.
    Idempotent. Exit 0: ready; 1: the home had a registry store that is now missing (nothing was created)."""
    if args.home:
        os.environ[settings.HOME_ENV] = str(Path(args.home).resolve())
    from ops_pipelines.lib.mlops.registry_store import RegistryStoreError
    from ops_pipelines.lib.platform.home import init_home

    try:
        lines = init_home(settings.data_home(), new_registry=args.new_registry)
    except RegistryStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    import dagster as dg

    instance_dir = prepare_embedded_instance()
    with dg.DagsterInstance.get() as instance:  # its SQLite schemas now, not when a daemon and a CLI race for them
        instance.get_runs(limit=1)
        instance.all_instigator_state()
    print(f"data home {settings.data_home()}")
    for line in [*lines, f"Dagster instance {instance_dir}: ready"]:
        print(f"  {line}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Dagster webserver and daemon (and the MLflow UI on the next port) as separate processes, so schedules
    and sensors run while the UI is open. `--read-only`: the webserver alone, in Dagster's read-only mode."""
    from ops_pipelines import runner

    home = prepare_embedded_instance()
    # MLflow's UI server would also start a pool of job workers (~240 MB each) for features we do not use.
    env = {**os.environ, "DAGSTER_HOME": str(home), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    try:
        # A service manager's stop (SIGTERM) also stops the children. One code server for the webserver and the
        # daemon: the daemon would otherwise start a new one every minute (read-only: the webserver alone).
        with runner.owned_children(), contextlib.ExitStack() as stack:
            target = runner.CODE_LOCATION if args.read_only else stack.enter_context(runner.code_server(env))
            webserver = [runner.dagster_bin("dagster-webserver"), "-h", args.host, "-p", str(args.port), *target]
            procs = _start_ui(args, env, webserver, home, target)
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    return 0


def _start_ui(args: argparse.Namespace, env: dict[str, str], webserver: list[str], home: Path, target: list[str]) -> list:
    from ops_pipelines import runner
    from ops_pipelines.lib.mlops.registry_store import RegistryLocation, read_marker

    if args.read_only:
        # No daemon either: it launches runs (schedules, sensors), which is what read-only viewers must not do.
        # No MLflow UI: it has no read-only mode (it can move the champion alias and delete runs).
        procs = [runner.start_process([*webserver, "--read-only"], env)]
        print(f"Dagster UI (read-only: no launching, no schedule or sensor changes) on http://{args.host}:{args.port} "
              f"(DAGSTER_HOME={home}); no daemon, no MLflow UI; Ctrl-C stops it.", flush=True)
        return procs
    procs = [runner.start_process(webserver, env), runner.start_daemon(env, target=target)]
    registry = RegistryLocation.of_home(settings.data_home())
    if read_marker(registry.home) is None or (registry.sqlite_path and not registry.sqlite_path.exists()):
        # `mlflow ui` would create an empty store, hiding a deleted one from the next run's check.
        mlflow_note = f"MLflow UI not started: no registry store initialised at {registry.describe()} (ops-pipelines init)"
    else:
        procs.append(runner.start_process([runner.dagster_bin("mlflow"), "ui", "--host", args.host, "--port", str(args.port + 1),
                                           "--backend-store-uri", registry.tracking_uri], env))
        mlflow_note = f"MLflow UI on http://{args.host}:{args.port + 1}"
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}), {mlflow_note}; Ctrl-C stops them.",
          flush=True)
    return procs


def cmd_detect(args: argparse.Namespace) -> int:
    """Exit 0: every file scored; 1: some could not be (each named on stderr); 2: nothing ran."""
    from ops_pipelines.lib.aiops.detect_files import UsageError, detect_file, plan_outputs

    try:
        jobs = plan_outputs(args.inputs, args.output, overwrite=args.overwrite)
        Path(args.output).mkdir(parents=True, exist_ok=True)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot create the output folder {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    settings.use_compiled_cache()
    done = failed = 0
    try:
        for job in jobs:
            result = detect_file(job)
            if result.error:
                failed += 1
                print(f"error: {job.source}: {result.error}; not scored", file=sys.stderr, flush=True)
                continue
            done += 1
            note = result.notes.describe()
            if note:
                print(f"note: {job.source}: {note}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {done + failed} of {len(jobs)} file(s)", file=sys.stderr)
        return 130
    print(f"scored {done} file(s) into {args.output}" + (f"; {failed} could not be scored" if failed else ""))
    return 1 if failed else 0


def cmd_llm_eval(args: argparse.Namespace) -> int:
    """Exit 0: some row was scored (rejected lines are listed on stderr and in the rejects file);
    1: no row could be scored; 2: the command could not run (unreadable input, bad output path)."""
    from ops_pipelines.cli.llm_eval import UsageError, llm_eval

    shown = 20  # per line on stderr; all of them are in the rejects file
    try:
        result = llm_eval(Path(args.input), Path(args.output), judge=args.judge)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for reject in result.rejects[:shown]:
        print(f"{args.input}:{reject.line}: {reject.reason}; not scored", file=sys.stderr)
    if len(result.rejects) > shown:
        print(f"... and {len(result.rejects) - shown} more", file=sys.stderr)
    rejected = f"; {len(result.rejects)} line(s) rejected, see {result.rejects_path}" if result.rejects else ""
    print(f"scored {result.scored} row(s) into {args.output}{rejected}")
    return 0 if result.scored else 1


def cmd_status(args: argparse.Namespace) -> int:
    """The latest (or the given day's) ops health report: its Markdown, or with --html the HTML file's path."""
    from ops_pipelines.lib.platform.health_report import find_report

    reports = settings.data_home() / "reports"
    day = args.day.isoformat() if args.day else None
    path = find_report(reports, day, ".html" if args.html else ".md")
    if path is None:
        which = f"for {day}" if day else "yet"
        print(f"no ops health report {which} in {reports}; run `ops-pipelines demo` or materialize ops_health_report", file=sys.stderr)
        return 1
    if args.html:
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from ops_pipelines.cli.drift import (
        run_drift_files,
        split_names,
        summary_line,
    )

    try:
        result, html = run_drift_files(
            args.reference, args.current, args.json,
            columns=split_names(args.columns), categorical=split_names(args.categorical), report=args.report,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_line(result, args.json, html))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ops_pipelines.cli.datasets import list_datasets

    return list_datasets(settings.data_home(), args.model, sys.stdout)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ops_pipelines.cli.datasets import reproduce

    return reproduce(settings.data_home(), args.model, args.version, sys.stdout)


def cmd_explain(args: argparse.Namespace) -> int:
    """Exit 0: explained; 2: bad input (one line on stderr)."""
    from ops_pipelines.cli.explain import UsageError, explain, print_explanation, write_json

    try:
        result = explain(settings.data_home(), settings.storage_dir(), args.model, version=args.version,
                         row=args.row, event_id=args.event_id)
        if args.json:
            write_json(result, Path(args.json))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_explanation(result, sys.stdout)
    return 0


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    from ops_pipelines.lib.sim import DEFAULT_START

    parser = argparse.ArgumentParser(prog="ops-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a sample-world landing zone")
    sim.add_argument("--days", type=int, default=DEFAULT_DAYS)
    sim.add_argument("--start", type=_date, default=DEFAULT_START, help="first day, YYYY-MM-DD")
    sim.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sim.add_argument("--out", required=True, help="landing-zone folder to write")
    sim.set_defaults(func=cmd_simulate)

    demo = sub.add_parser("demo", help="simulate the sample world and run it through the asset graph")
    demo.add_argument("--days", type=int, default=DEFAULT_DAYS)
    demo.add_argument("--start", type=_date, default=DEFAULT_START)
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run the daily graph over your landing zone for a range of days")
    run.add_argument("--start", dest="first", type=_date, metavar="YYYY-MM-DD", help="first day, YYYY-MM-DD (UTC); required")
    run.add_argument("--from", dest="first", type=_date, help=argparse.SUPPRESS)  # the flag's first name; still works
    run.add_argument("--end", dest="last", type=_date, metavar="YYYY-MM-DD", help="last day, YYYY-MM-DD (included); required")
    run.add_argument("--to", dest="last", type=_date, help=argparse.SUPPRESS)
    run.add_argument("--select", default=None, metavar="SELECTION", help="Dagster asset selection string, e.g. 'key:metric_anomalies' or "
                     "'group:aiops' (default: the whole daily graph)")
    run.add_argument("--topology", default=None, metavar="FILE", help="service topology JSON for these runs (default: the sample world's)")
    run.add_argument("--runbooks", default=None, metavar="FILE", help="runbook rules JSON for these runs (default: the sample world's)")
    run.add_argument("--home", default=None, metavar="DIR",
                     help=f"data home whose landing/ holds your files (default: ${settings.HOME_ENV} or ./.ops_pipelines)")
    run.set_defaults(func=cmd_run)

    detect = sub.add_parser("detect", help="score timestamp,value CSV files with the default detector")
    detect.add_argument("inputs", nargs="+", help="CSV files or folders of them")
    detect.add_argument("--output", required=True, help="folder for timestamp,value,anomaly_score,is_anomaly CSVs "
                        "mirroring the input paths")
    detect.add_argument("--overwrite", action="store_true", help="replace output files of an earlier run "
                        "(default: refuse if any exists)")
    detect.set_defaults(func=cmd_detect)

    llm = sub.add_parser("llm-eval", help="score question/context/answer JSONL rows offline")
    llm.add_argument("input", help="JSONL with question, context (string or list), answer, optional reference")
    llm.add_argument("--output", required=True, help="JSONL: each row with its scores added")
    llm.add_argument("--judge", action="store_true",
                     help="also ask the LLM judge at $OPS_LLM_JUDGE_BASE_URL ($OPS_LLM_JUDGE_MODEL, key in $OPS_LLM_JUDGE_API_KEY)")
    llm.set_defaults(func=cmd_llm_eval)

    status = sub.add_parser("status", help="print the latest ops health report (Markdown)")
    status.add_argument("--day", type=_date, help="the report of this day, YYYY-MM-DD (default: the latest)")
    status.add_argument("--html", action="store_true", help="print the path of the self-contained HTML report instead")
    status.set_defaults(func=cmd_status)

    drift = sub.add_parser("drift", help="data drift between two CSV/Parquet files (Evidently's verdicts, fast)")
    drift.add_argument("--reference", required=True, help="reference data, .csv or .parquet")
    drift.add_argument("--current", required=True, help="current data, .csv or .parquet")
    drift.add_argument("--columns", default=None, help="comma-separated columns to compare (default: all)")
    drift.add_argument("--categorical", default=None, help="comma-separated columns to treat as categorical")
    drift.add_argument("--report", default=None, help="also write Evidently's HTML report here (sampled if large)")
    drift.add_argument("--json", required=True, help="where to write the JSON verdicts")
    drift.set_defaults(func=cmd_drift)

    init = sub.add_parser("init", help="create the data home's stores (folders, Dagster instance, MLflow registry); "
                          "idempotent")
    init.add_argument("--home", default=None,
                      help=f"the data home (default: ${settings.HOME_ENV} or ./.ops_pipelines)")
    init.add_argument("--new-registry", action="store_true",
                      help="the home had a registry store that is gone: start a new, empty one knowingly "
                           "(its old model versions stay orphaned)")
    init.set_defaults(func=cmd_init)

    datasets = sub.add_parser("datasets", help="list training dataset versions with their lineage")
    datasets.add_argument("--model", default=None, help="one model (default: every configured model)")
    datasets.set_defaults(func=cmd_datasets)

    again = sub.add_parser("reproduce", help="retrain a registered model version from its recorded dataset version")
    again.add_argument("model", help="configured model name, e.g. ctr_logreg")
    again.add_argument("version", type=int, help="registered version number")
    again.set_defaults(func=cmd_reproduce)

    why = sub.add_parser("explain", help="a row's score and top feature contributions, from the version that serves it")
    why.add_argument("--model", required=True, help="configured model name, e.g. ctr_logreg")
    why.add_argument("--version", type=int, default=None, help="registered version (default: the champion, or the "
                     "version that served --event-id)")
    which = why.add_mutually_exclusive_group(required=True)
    which.add_argument("--row", default=None, help="the row as a JSON object of input column: value")
    which.add_argument("--event-id", default=None, help="a logged prediction's event id (asset prediction_log)")
    why.add_argument("--json", default=None, metavar="OUT", help="also write the explanation as JSON here")
    why.set_defaults(func=cmd_explain)

    ui = sub.add_parser("ui", help="start the Dagster UI and daemon on the embedded instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--read-only", action="store_true",
                    help="for people who should look but not launch: Dagster's read-only webserver, no daemon, no MLflow UI")
    ui.set_defaults(func=cmd_ui)
    return parser


def run() -> None:
    """The `ops-pipelines` command: `main`, then an exit that skips the interpreter's native teardown.

    Arrow's native thread pools can abort a process while the interpreter finalizes, after all its work
    is done ("terminate called without an active exception", exit -6; apache/arrow#34314): a demo that
    succeeded would report a crash. An error (a traceback, argparse's exit) still leaves the usual way.
    """
    import logging

    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)  # inside: `--help` writes too
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command its pipe closed

