"""One finished `ops-pipelines demo`, shared by the tests that read a demo's outcome (the CLI test and the
browser tests): the demo is the slowest setup of the suite, so it runs once per session.

It runs the way a user runs it: the CLI in its own process, `OPS_PIPELINES_HOME` set, `DAGSTER_HOME` unset
(the CLI creates its embedded instance under the data home). The one thing it changes is the models file:
MODEL alone with a WINDOW_DAYS-day training window, so the retraining sensor bootstraps the model's first
champion on day WINDOW_DAYS and the days after it compute drift against that champion, all within DEMO_DAYS.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

START, SEED = "2026-03-02", "7"
DEMO_DAYS = 3  # the sample world's (seed 7) first incident is on its third day
DAYS = [(pd.Timestamp(START) + pd.Timedelta(days=i)).date().isoformat() for i in range(DEMO_DAYS)]
LAST_DAY = DAYS[-1]
# One small model keeps the demo short: bootstrapped as soon as WINDOW_DAYS days of its source exist.
MODEL, WINDOW_DAYS, MIN_ROWS = "ctr_logreg", 2, 1000
BOOTSTRAP_DAY = DAYS[WINDOW_DAYS - 1]
BIN = Path(sys.executable).parent


def write_models_file(path: Path) -> Path:
    """The shipped models file cut down to MODEL, with a WINDOW_DAYS-day window and MIN_ROWS rows."""
    from ops_pipelines.lib.mlops.config import MODELS_FILE

    raw = json.loads(MODELS_FILE.read_text())
    kept = [m for m in raw["models"] if m["name"] == MODEL]
    assert len(kept) == 1, f"{MODELS_FILE} has no single {MODEL!r} entry"
    kept[0]["training"] = {**kept[0].get("training", {}), "window_days": WINDOW_DAYS, "min_rows": MIN_ROWS}
    path.write_text(json.dumps({"models": kept}, indent=2, sort_keys=True) + "\n")
    return path


def run_small_demo(root: Path) -> SimpleNamespace:
    """`ops-pipelines demo` for DEMO_DAYS days with its data home in `root/home`, run from `root`.

    Exit code 0 is required: a guardrail breach does not fail a run (the candidate-guardrail check is
    non-blocking and prompt_promotion records "blocked"), so any failed day is a regression. `env` is what a
    process needs to open the demo's instance and code location afterwards (a webserver).
    """
    home = root / "home"
    home.mkdir()
    models = write_models_file(root / "models.json")
    # The code location reads the models file when it loads: the demo's daemon and run workers and any later
    # webserver's code server must all see the same one.
    env = {**os.environ, "OPS_PIPELINES_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true", "OPS_PIPELINES_MODELS": str(models)}
    env.pop("DAGSTER_HOME", None)
    run = subprocess.run([str(BIN / "ops-pipelines"), "demo", "--days", str(DEMO_DAYS), "--start", START, "--seed", SEED],
                         cwd=root, env=env, capture_output=True, text=True, timeout=1800, check=False)
    (root / "demo.out").write_text(run.stdout + run.stderr)  # the whole output, next to the data, for a failing run
    tail = run.stdout[-4000:] + run.stderr[-4000:]
    assert run.returncode == 0 and "What was produced" in run.stdout, tail
    for needed in (home / "storage" / "incidents" / f"{LAST_DAY}.parquet", home / "reports" / f"ops_health_{LAST_DAY}.html"):
        assert needed.is_file(), f"the demo did not write {needed}:\n{tail}"
    return SimpleNamespace(root=root, home=home, storage=home / "storage", reports=home / "reports",
                           dagster_home=home / "dagster", output=run.stdout,
                           env={**env, "DAGSTER_HOME": str(home / "dagster")})
