import os
import tempfile

# Before anything imports the code location: its resources and caches resolve the data home once,
# and a test run must never write into the working tree's ./.ops_pipelines. Each pytest-xdist worker gets its
# own (the controller's would be shared by tests running at the same time).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OPS_PIPELINES_HOME"] = tempfile.mkdtemp(prefix=f"ops_pipelines_tests_{os.environ['PYTEST_XDIST_WORKER']}_")
os.environ.setdefault("OPS_PIPELINES_HOME", tempfile.mkdtemp(prefix="ops_pipelines_tests_"))
# One numba cache for the session, inherited by every process a test starts: the detector kernels compile once
# (about 12 s of a core), not once per data home (settings.use_compiled_cache keeps a folder that is set).
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="ops_pipelines_tests_numba_"))

import dagster as dg
import pandas as pd
import pytest

from ops_pipelines.defs.aiops.ingestion import service_logs, telemetry_metrics
from ops_pipelines.defs.llmops.evaluation import llm_eval_scores, llm_kpi_series
from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.defs.mlops.ingestion import model_events
from ops_pipelines.defs.platform.telemetry import pipeline_run_telemetry
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.resources.landing_zone import LandingZone
from tests.postgres import postgres_or_skip

# Tests never write into the source tree or the user's data dir, and never phone home.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Tests run on two pytest-xdist workers (`-n 2 --dist loadgroup` in pyproject.toml). A file's tests stay on one
# worker (its module-scoped fixtures are built once), and so do all readers of a session-wide world (built once, not
# once per worker).
SHARED_WORLDS = {"small_demo": "small_demo", "world14": "world14", "world2": "world14"}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Each test's xdist group. `--dist loadgroup` schedules by a `@<group>` suffix of the node id, which
    pytest-xdist 3.8 writes to `item._nodeid`; pytest 9 keeps the id in `item._id` and ignores it (the
    `xdist_group` mark then does nothing), so the suffix is set here."""
    if not config.getoption("loadgroup", False):  # only on a worker of a loadgroup run
        return
    from _pytest.nodeid import NodeId

    for item in items:
        shared = sorted({SHARED_WORLDS[f] for f in item.fixturenames if f in SHARED_WORLDS})
        item._id = NodeId.parse(f"{item.nodeid}@{'+'.join(shared) or item.nodeid.split('::')[0]}")


DAY = "2026-03-02"
NOW = pd.Timestamp("2026-03-10T00:00:00Z")


@pytest.fixture
def landing(tmp_path):
    """A landing-zone folder plus a writer: landing.write(kind, name, text_or_bytes, day=DAY)."""

    class Landing:
        root = tmp_path / "landing"

        def write(self, kind: str, name: str, content: str | bytes, day: str = DAY):
            path = self.root / kind / day / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            return path

    return Landing()


@pytest.fixture
def run_day(landing, tmp_path):
    """Materialize the ingestion job for one day against a temp landing zone and storage."""
    storage = tmp_path / "storage"

    def run(day: str, instance=None, assets=None, **zone):
        resources = {"landing_zone": LandingZone(root=str(landing.root), **zone), "io_manager": ParquetIOManager(base_dir=str(storage))}
        assets = assets or [telemetry_metrics, service_logs, llm_traces, model_events]
        return dg.materialize(assets, partition_key=day, resources=resources, instance=instance, raise_on_error=False), storage

    return run


# What metric_anomalies needs upstream besides telemetry: the LLM KPI series (empty without traces)
# and our own run telemetry (empty in a fresh instance).
LLM_KPI_CHAIN = [llm_traces, llm_eval_scores, llm_kpi_series, pipeline_run_telemetry]


@pytest.fixture(scope="module")
def pg():
    """Connection parameters of a real PostgreSQL server (CI's, or one started for the module)."""
    with postgres_or_skip() as params:
        yield params


@pytest.fixture(scope="session")
def world14(tmp_path_factory):
    """The default sample world: 14 days from DEFAULT_START, seed 7 (~280 MB, removed afterwards), simulated once
    for every test that reads it (`root`, and the simulator's `summary`). Nobody writes into it."""
    import shutil
    from types import SimpleNamespace

    from ops_pipelines.lib.sim import DEFAULT_START, simulate_world

    root = tmp_path_factory.mktemp("world14")
    yield SimpleNamespace(root=root, summary=simulate_world(root, DEFAULT_START, 14, seed=7))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def topic_shift_world(world14):
    """The default sample world (seed 7) through the day of its LLM topic shift, and that day: the first days of
    `world14` (a day of a shorter run equals that day of a longer one, tests/lib/sim/test_sim_determinism.py)."""
    import datetime as dt
    import json

    from ops_pipelines.lib.sim import DEFAULT_START

    shift = json.loads((world14.root / "ground_truth" / "world.json").read_text())["llm_app"]["topic_shift"]
    days = [(DEFAULT_START + dt.timedelta(days=i)).isoformat() for i in range(14)]
    return world14.root, shift, days[: days.index(shift["date"]) + 1]


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """One finished `ops-pipelines demo` (tests/small_demo.py), shared by the tests that read its outcome."""
    from tests.small_demo import run_small_demo

    return run_small_demo(tmp_path_factory.mktemp("small_demo"))
