"""`ops-pipelines`: simulate the sample world, run the demo, start the UI."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
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
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
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
    from ops_pipelines.demo import run_demo

    prepare_embedded_instance()
    return run_demo(days=args.days, start=args.start, seed=args.seed, out=sys.stdout)


def cmd_ui(args: argparse.Namespace) -> int:
    """Dagster webserver and daemon as two processes, so schedules and sensors run while the UI is open."""
    home = prepare_embedded_instance()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    target = ["-m", "ops_pipelines.definitions"]
    bindir = Path(sys.executable).parent  # the same environment, whether or not it is on PATH
    web = subprocess.Popen([str(bindir / "dagster-webserver"), "-h", args.host, "-p", str(args.port), *target], env=env)
    daemon = subprocess.Popen([str(bindir / "dagster-daemon"), "run", *target], env=env)
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops it.", flush=True)
    try:
        while web.poll() is None and daemon.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (web, daemon):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (web, daemon):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from ops_pipelines.lib.aiops.detect_files import detect_files

    written = detect_files([Path(p) for p in args.inputs], Path(args.output))
    print(f"scored {len(written)} file(s) into {args.output}")
    return 0


def cmd_llm_eval(args: argparse.Namespace) -> int:
    from ops_pipelines.lib.llmops.cli_eval import llm_eval

    count = llm_eval(Path(args.input), Path(args.output))
    print(f"scored {count} row(s) into {args.output}")
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

    detect = sub.add_parser("detect", help="score timestamp,value CSV files with the default detector")
    detect.add_argument("inputs", nargs="+", help="CSV files or folders of them")
    detect.add_argument("--output", required=True, help="folder for timestamp,value,anomaly_score,is_anomaly CSVs")
    detect.set_defaults(func=cmd_detect)

    llm = sub.add_parser("llm-eval", help="score question/context/answer JSONL rows offline")
    llm.add_argument("input", help="JSONL with question, context (string or list), answer, optional reference")
    llm.add_argument("--output", required=True, help="JSONL: each row with its scores added")
    llm.set_defaults(func=cmd_llm_eval)

    ui = sub.add_parser("ui", help="start the Dagster UI and daemon on the embedded instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
