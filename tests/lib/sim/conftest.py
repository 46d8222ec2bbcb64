"""One simulation per session for each world the sim tests need (simulating is the slow part); the default
14-day world, `world14`, is in tests/conftest.py: tests beyond these read it too."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops_pipelines.lib.sim import DEFAULT_START, SimSummary, simulate_world
from tests.lib.sim import sim_readers as rd


@dataclass(frozen=True)
class Run:
    root: Path
    summary: SimSummary


def simulate(tmp_path_factory: pytest.TempPathFactory, name: str, days: int, seed: int = 7) -> Run:
    root = tmp_path_factory.mktemp(name)
    return Run(root, simulate_world(root, DEFAULT_START, days, seed=seed))


@pytest.fixture(scope="session")
def world2(tmp_path_factory):
    """A 2-day world with the default seed, for byte-level and row-level checks."""
    run = simulate(tmp_path_factory, "world2", 2)
    yield run
    shutil.rmtree(run.root, ignore_errors=True)


@pytest.fixture(scope="session")
def incidents14(world14):
    return rd.ground_truth(world14.root, "incidents.json")


@pytest.fixture(scope="session")
def truth14(world14):
    return rd.ground_truth(world14.root, "world.json")


@pytest.fixture(scope="session")
def metrics14(world14):
    return rd.load_metrics(world14.root)


@pytest.fixture(scope="session")
def logs14(world14):
    return rd.load_logs(world14.root)


@pytest.fixture(scope="session")
def traces14(world14):
    return rd.traces_frame(rd.load_traces(world14.root))


@pytest.fixture(scope="session")
def events14(world14):
    return rd.load_events(world14.root)
