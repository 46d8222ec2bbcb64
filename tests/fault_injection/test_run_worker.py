"""kill -9 of a run worker in the middle of a step, and two runs of one day at once, on the production instance.

Production path throughout: the repository's dagster.yaml on PostgreSQL, runs submitted to the queue the way
`ops-pipelines run` submits them, a real `dagster-daemon` (run queue, run retries) whose code server launches
the run workers. Who notices a killed worker: the code server that started it reports the run failed (its
process died with -9), and the daemon's run retries (`run_retries`, crashed runs only) re-execute it from the
failure. Run monitoring's worker health check does not apply: the default run launcher does not support it.
"""

import os
import signal
import time

import dagster as dg
import pytest

from ops_pipelines import runner
from tests.fault_injection.harness import (
    DAY,
    day_files,
    drop_day,
    events,
    finished,
    instance_for,
    production_env,
    selection,
    small_world,
    unfinished_writes,
    wait,
    worker_pid,
)

pytestmark = [pytest.mark.fault_injection, pytest.mark.postgres]
# Steps long enough to be caught in the middle (~1 s each on the small world); the first found running is killed.
TARGETS = ("metric_anomalies", "log_anomalies", "correlate_incidents", "log_templates")


def kill_mid_step(instance: dg.DagsterInstance, run_id: str) -> tuple[str, set[str]]:
    """SIGSTOP the run worker while a target step has started and not ended, confirm that from the event log
    (a stopped process writes nothing more), then SIGKILL it. Returns the step and the steps done before."""
    pid = wait(lambda: worker_pid(instance, run_id), "the run worker's pid", poll=0.05)
    ended_kinds = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED)

    def ended() -> set[str]:
        return {e.step_key for kind in ended_kinds for e in events(instance, run_id, kind)}

    while not finished(instance, run_id):
        started = {e.step_key for e in events(instance, run_id, dg.DagsterEventType.STEP_START)}
        running = [s for s in TARGETS if s in started and s not in ended()]
        if running:
            os.kill(pid, signal.SIGSTOP)
            done = ended()
            if running[0] not in done:
                os.kill(pid, signal.SIGKILL)
                return running[0], done
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("the run finished before a step could be caught in the middle")


def test_a_killed_run_worker_is_retried_to_the_same_bytes_and_two_runs_of_a_day_wait_for_each_other(pg, tmp_path):
    env = production_env(tmp_path, pg)
    home = tmp_path / "home"
    small_world(home / "landing", tmp_path)
    assets, log = selection(), tmp_path / "daemon.log"

    with instance_for(env) as instance:
        # Two runs of the same day, queued at the same moment (before the daemon starts).
        pair = [runner.launch_run("daily_job", DAY, {"ops/trigger": "fault-test"}, env, assets=assets) for _ in range(2)]
        daemon = runner.start_daemon(env, log)
        try:
            runs = [wait(lambda r=r: finished(instance, r), f"run {r}", log=log) for r in pair]
            assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2, log.read_text()[-3000:]
            first, second = sorted((instance.get_run_record_by_id(r) for r in pair), key=lambda r: r.start_time)
            assert second.start_time >= first.end_time  # the per-day limit made the second wait
            reference = day_files(home)
            assert len(reference) >= 20 and unfinished_writes(home) == []

            # The same day again, its files gone; the worker killed -9 in the middle of a step.
            drop_day(home)
            killed = runner.launch_run("daily_job", DAY, {"ops/trigger": "fault-test"}, env, assets=assets)
            step, done_before = kill_mid_step(instance, killed)
            crashed = wait(lambda: finished(instance, killed), "the killed run to be marked failed", log=log)
            assert crashed.status == dg.DagsterRunStatus.FAILURE
            why = " ".join(e.message or "" for e in events(instance, killed, dg.DagsterEventType.ENGINE_EVENT))
            assert "was terminated by signal 9 (SIGKILL)" in why, why[-2000:]
            assert not events(instance, killed, dg.DagsterEventType.STEP_FAILURE)  # a crash, not a failed step

            retry = wait(lambda: [r for r in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": killed}))
                                  if r.is_finished], "the automatic retry", log=log)[0]
            assert retry.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-3000:]
            assert retry.tags["dagster/retry_number"] == "1"
            redone = {e.step_key for e in events(instance, retry.run_id, dg.DagsterEventType.STEP_SUCCESS)}
            assert step in redone and not (redone & done_before)  # from the failure: finished steps are not redone
        finally:
            runner.stop_process(daemon)

    after = day_files(home)
    assert sorted(after) == sorted(reference)
    assert [path for path in after if after[path] != reference[path]] == []
    print(f"killed in {step}; {len(done_before)} steps had ended; {len(after)} files byte-identical after the retry; "
          f"leftover temp files: {unfinished_writes(home)}; same-day runs: second started "
          f"{second.start_time - first.end_time:.1f}s after the first ended")
