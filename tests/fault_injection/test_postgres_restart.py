"""PostgreSQL restarted, and down for a while, in the middle of a run on the production instance: a clear failure,
then a clean retry that writes the bytes an undisturbed run writes.

The server is our own (tests/postgres.py `private_postgres`), never CI's shared one. Measured here: even a
restart that takes 0.2 s can fail the step that was writing an event (its pooled connection is closed under
it; dagster-postgres only retries new connections, ~6 s), and Dagster counts that as the step's failure, so its
run retries (crashed runs only) leave it; or it falls between two queries and nothing fails. A 15 s outage fails
the run (step failure or crashed run); Dagster's retry of a crashed run is launched as soon as the run failed,
while the code location is still reloading after the outage, fails once and is never tried again
(`dagster/will_retry` turns "false"). `storage_outage_retry_sensor` runs such a day again in both cases.
"""

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
    wait,
)
from tests.fault_injection.test_run_worker import TARGETS
from tests.postgres import postgres_or_skip

pytestmark = [pytest.mark.fault_injection, pytest.mark.postgres]
STORAGE_WORDS = ("OperationalError", "DagsterPostgresException", "server closed the connection", "Connection refused",
                 "terminated by signal", "unexpectedly exited")


def interrupt_database(instance, run_id: str, server, down_s: float) -> str:
    """Stop PostgreSQL as soon as a target step of the run has started; start it again `down_s` later."""
    def running():
        started = {e.step_key for e in events(instance, run_id, dg.DagsterEventType.STEP_START)}
        return next((s for s in TARGETS if s in started), None)

    step = wait(running, "a target step to start", poll=0.05)
    server.stop("fast")
    time.sleep(down_s)
    server.start()
    return step


def failure_text(instance, run_id: str) -> str:
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.ENGINE_EVENT}
    parts = []
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        parts += [event.message or "", error.message if error is not None else ""]
    return " ".join(parts)


def test_postgres_restarted_or_down_mid_run_fails_clearly_and_the_retry_writes_the_same_bytes(tmp_path):
    with postgres_or_skip(private=True) as server:
        env = production_env(tmp_path, server.params)
        home = tmp_path / "home"
        small_world(home / "landing", tmp_path)
        assets, log = selection(), tmp_path / "daemon.log"
        with instance_for(env) as instance:
            daemon = runner.start_daemon(env, log)
            try:
                first = runner.launch_run("daily_job", DAY, {"ops/trigger": "fault-test"}, env, assets=assets)
                assert wait(lambda: finished(instance, first), "the undisturbed run", log=log).status == dg.DagsterRunStatus.SUCCESS
                reference = day_files(home)

                outcomes = {}
                for name, down_s in (("restart", 0.0), ("outage", 15.0)):
                    drop_day(home)
                    run_id = runner.launch_run("daily_job", DAY, {"ops/trigger": "fault-test"}, env, assets=assets)
                    step = interrupt_database(instance, run_id, server, down_s)
                    last, status, retries = runner.final_run(instance, run_id, 300, f"the {name} run and its retries", daemon)
                    failed = instance.get_run_by_id(run_id)
                    text = failure_text(instance, run_id)
                    outcomes[name] = (step, failed.status.value, failed.tags.get("dagster/failure_reason"), retries, status)
                    assert status == "SUCCESS", (outcomes, log.read_text()[-3000:])
                    retry_runs = [r for r in instance.get_runs() if run_id in (r.tags.get("dagster/parent_run_id"),
                                                                              r.tags.get("ops/retry_of"))]
                    if failed.status == dg.DagsterRunStatus.SUCCESS:
                        # A quick restart between two of the run's queries is bridged by reconnecting: no failure.
                        assert name == "restart" and retries == 0 and retry_runs == [], outcomes
                    else:
                        assert any(word in text for word in STORAGE_WORDS), text[-3000:]  # says what went away
                        assert retries == 1 and [r.run_id for r in retry_runs] == [last], outcomes  # one retry, not two
                        by = "storage_outage_retry_sensor" if "ops/retry_of" in retry_runs[0].tags else "Dagster run retries"
                        outcomes[name] += (by, failed.tags.get("dagster/will_retry"))
                    after = day_files(home)
                    assert sorted(after) == sorted(reference) and [p for p in after if after[p] != reference[p]] == []
                assert daemon.poll() is None, "the daemon did not survive the database going away"
            finally:
                runner.stop_process(daemon)
    print(f"outcomes (step hit, first run, failure reason, retries, final[, retried by, will_retry]): {outcomes}; {len(reference)} files "
          "byte-identical after each")
