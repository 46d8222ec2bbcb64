"""daily_job on Celery workers with a real Redis broker and result backend, on the production instance.

Two days of a small world on 2 workers (`dagster-celery worker start`) store exactly the bytes an in-process
run stores; a worker's pool process killed -9 in the middle of a step has its task handed out again (late
acks, reject on a lost worker: ops_pipelines/defs/executors.py), the step runs a second time and the run ends
with the same bytes.
"""

import json
import os
import signal
import time

import dagster as dg
import pytest

from ops_pipelines.settings import SHARDS_ENV
from tests.celery_cluster import celery_env, celery_workers, drive, isolated_env, redis_missing, redis_server
from tests.fault_injection.harness import day_files, instance_for, production_env, small_world, wait

# CI must run them: there a missing redis-server fails instead of skipping.
pytestmark = [pytest.mark.celery, pytest.mark.postgres,
              pytest.mark.skipif(redis_missing() is not None and not os.environ.get("CI"), reason=str(redis_missing()))]
DAYS = ["2026-03-02", "2026-03-03"]
SELECTION = "group:aiops"  # ingestion, the three carried-state detectors, rollups, incidents
# Steps long enough to be caught in the middle; the first found running is killed.
TARGETS = ("metric_anomalies", "log_templates", "log_anomalies", "correlate_incidents", "ingest_telemetry_metrics")


def stored(home) -> dict[str, bytes]:
    return {path: data for day in DAYS for path, data in day_files(home, day).items()}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    work = tmp_path_factory.mktemp("celery_world")
    small_world(work / "landing", work, days=len(DAYS))
    return work / "landing"


@pytest.fixture(scope="module")
def reference(landing, pg, tmp_path_factory):
    """Both days in one process (Dagster's in-process executor): the bytes every other way must match."""
    work = tmp_path_factory.mktemp("in_process")
    env = isolated_env(work, landing, production_env(work, pg))
    assert drive(env, DAYS, work / "report.json", SELECTION).returncode == 0
    files = stored(work / "home")
    assert len(files) >= 40  # both days' Parquet partitions and detector state
    return files


@pytest.fixture
def cluster(landing, pg, tmp_path):
    """A redis-server and two Celery workers on the production instance; yields (env, workers, data home)."""
    with redis_server() as url:
        env = celery_env(isolated_env(tmp_path, landing, production_env(tmp_path, pg)), url)
        with celery_workers(env, 2, tmp_path) as workers:
            yield env, workers, tmp_path / "home"


def test_two_days_on_two_celery_workers_store_the_in_process_bytes(cluster, reference, tmp_path):
    env, workers, home = cluster
    proc = drive(env, DAYS, tmp_path / "report.json", SELECTION)
    report = json.loads((tmp_path / "report.json").read_text())
    assert proc.returncode == 0, workers.log_tail()
    assert sorted(report["worker_names"]) == [f"{n}@{os.uname().nodename}" for n in workers.names]  # both did steps
    files = stored(home)
    assert sorted(files) == sorted(reference)
    assert [p for p in files if files[p] != reference[p]] == []


def test_a_worker_killed_mid_step_hands_the_step_to_a_worker_again_and_the_run_stores_the_same_bytes(
        cluster, reference, tmp_path):
    env, workers, home = cluster
    day = DAYS[0]
    proc = drive(env, [day], tmp_path / "report.json", SELECTION, wait=False)
    try:
        with instance_for(env) as instance:
            run_id = wait(lambda: next((r.run_id for r in instance.get_runs()), None), "the run to start")
            step = kill_mid_step(instance, run_id, workers)
            proc.wait(timeout=900)  # with early acks the run would hang here for ever (docs/platform.md)
            assert proc.returncode == 0, workers.log_tail()
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
            # the killed step ran again: a second "in celery worker" start, and it succeeded once
            assert [s for s, _ in worker_starts(instance, run_id)].count(step) == 2
            steps_ok = [e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)]
            assert steps_ok.count(step) == 1
    finally:
        if proc.poll() is None:  # never leave a driver behind
            proc.kill()
            proc.wait()
    assert "WorkerLostError" in workers.log_tail(100_000) or "exited prematurely" in workers.log_tail(100_000)
    files = day_files(home, day)
    expected = {p: b for p, b in reference.items() if day in p}
    assert sorted(files) == sorted(expected)
    assert [p for p in files if files[p] != expected[p]] == []


def test_two_metric_shards_run_as_celery_steps_and_the_day_stores_the_in_process_bytes(landing, pg, reference, tmp_path):
    """OPS_PIPELINES_SHARDS=2 in every process: the day's metric ingestion, scoring and rollups are two steps each
    on the workers, and the day's files are those of the unsharded in-process run."""
    day = DAYS[0]
    with redis_server() as url:
        env = {**celery_env(isolated_env(tmp_path, landing, production_env(tmp_path, pg)), url), SHARDS_ENV: "2"}
        with celery_workers(env, 2, tmp_path) as workers:
            proc = drive(env, [day], tmp_path / "report.json", SELECTION)
            assert proc.returncode == 0, workers.log_tail()
            run_id = json.loads((tmp_path / "report.json").read_text())["runs"][0]["run_id"]
            with instance_for(env) as instance:
                starts = dict(worker_starts(instance, run_id))
    shards = {s: w for s, w in starts.items() if s.startswith("metric_anomalies.metric_shard_scores")}
    print(f"shard steps -> Celery workers: {shards}")
    assert sorted(shards) == [f"metric_anomalies.metric_shard_scores[shard{i}_of_2]" for i in range(2)]
    assert sorted(s for s in starts if s.startswith("anomaly_rollups.")) == [
        "anomaly_rollups.rollup_shard0_of_2", "anomaly_rollups.rollup_shard1_of_2", "anomaly_rollups.rollups_joined"]
    assert sorted(s for s in starts if s.startswith("ingest_telemetry_metrics.")) == sorted([
        *(f"ingest_telemetry_metrics.ingest_telemetry_metrics_shard{i}_of_2" for i in range(2)),
        "ingest_telemetry_metrics.ingest_telemetry_metrics_joined"])
    assert sorted(set(starts.values())) == [f"{n}@{os.uname().nodename}" for n in workers.names]
    files = day_files(tmp_path / "home", day)
    expected = {p: b for p, b in reference.items() if day in p}
    assert sorted(files) == sorted(expected)
    assert [p for p in files if files[p] != expected[p]] == []


def kill_mid_step(instance: dg.DagsterInstance, run_id: str, workers) -> str:
    """SIGSTOP the pool process of the worker running a target step, confirm from the event log that the step
    has not ended (a stopped process writes nothing more), then SIGKILL it. Returns the step."""
    ended = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            break
        for step, worker in running_steps(instance, run_id):
            if step not in TARGETS:
                continue
            pool = workers.pool_pids_of(worker)
            for pid in pool:
                os.kill(pid, signal.SIGSTOP)
            done = {e.step_key for kind in ended for e in instance.all_logs(run_id, of_type=kind)}
            if step not in done:
                for pid in pool:
                    os.kill(pid, signal.SIGKILL)
                return step
            for pid in pool:
                os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the run finished before a step could be caught in the middle")


def worker_starts(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, Celery worker name) of every step start on a worker, in order (dagster-celery's engine events)."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data
        worker = (data.metadata or {}).get("Celery worker") if data else None
        if worker is not None and entry.step_key:
            found.append((entry.step_key, str(getattr(worker, "value", worker))))
    return found


def running_steps(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, Celery worker name) of the steps a worker has started and not ended."""
    ended = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    done = {e.step_key for kind in ended for e in instance.all_logs(run_id, of_type=kind)}
    return [(s, w) for s, w in dict(worker_starts(instance, run_id)).items() if s not in done]
