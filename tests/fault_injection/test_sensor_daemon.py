"""A daemon killed -9 in the middle of a sensor tick, and again between ticks, never launches a run twice for
one run key (production instance on PostgreSQL, `landing_zone_sensor`).

The queue is closed (`max_concurrent_runs: 0`): runs stay queued, so what is counted is exactly what the sensor
created. The landing zone holds files for 40 days of two kinds, so one tick creates 80 runs and takes long
enough to be killed in the middle of (the kill waits until some but not all runs exist).
"""

import datetime as dt
import os
import signal
import subprocess
import time

import dagster as dg
import pytest

from ops_pipelines import runner
from tests.fault_injection.harness import instance_for, production_env, wait

pytestmark = [pytest.mark.fault_injection, pytest.mark.postgres]
SENSOR = "landing_zone_sensor"
FIRST, DAYS = dt.date(2025, 1, 1), 40
KINDS = {"metrics": ("m.csv", "timestamp,service,metric,value,host\n{day}T00:00:00Z,api,rps,1,h1\n"),
         "logs": ("app.jsonl", '{{"timestamp": "{day}T00:00:00Z", "service": "api", "level": "INFO", "message": "up"}}\n')}


def landing_zone(root) -> int:
    for i in range(DAYS):
        day = (FIRST + dt.timedelta(days=i)).isoformat()
        for kind, (name, text) in KINDS.items():
            path = root / kind / day / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.format(day=day))
    return DAYS * len(KINDS)


def sensor_runs(instance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": SENSOR})))


def ticks(instance) -> list:
    state = next((s for s in instance.all_instigator_state() if s.name == SENSOR), None)
    return list(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=20)) if state else []


def kill(daemon: subprocess.Popen) -> None:
    """kill -9 the daemon and everything it started (its code server): a crashed host, not a clean stop."""
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait(timeout=30)


def test_a_daemon_killed_mid_tick_and_between_ticks_never_launches_a_run_key_twice(pg, tmp_path):
    env = production_env(tmp_path, pg, edit=lambda text: text.replace("max_concurrent_runs: 4", "max_concurrent_runs: 0"))
    total = landing_zone(tmp_path / "home" / "landing")
    log = tmp_path / "daemon.log"
    started = subprocess.run([runner.dagster_bin("dagster"), "sensor", "start", SENSOR, *runner.CODE_LOCATION],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]

    with instance_for(env) as instance:
        daemon = runner.start_daemon(env, log)
        try:
            # 1. kill -9 while the tick is creating its runs
            partial = wait(lambda: 0 < len(sensor_runs(instance)) < total and len(sensor_runs(instance)), "the first runs",
                           poll=0.02, log=log)
            kill(daemon)
            at_kill = len(sensor_runs(instance))
            assert 0 < at_kill < total, (partial, at_kill)
            assert ticks(instance)[0].status.value == "STARTED"  # the tick never finished

            # restart: the interrupted tick is evaluated again from the old cursor; existing run keys are skipped
            daemon = runner.start_daemon(env, log)
            wait(lambda: len(sensor_runs(instance)) >= total and ticks(instance)[0].status.value != "STARTED",
                 "the tick after the restart", log=log)
            first_pass = sensor_runs(instance)

            # 2. kill -9 between ticks, restart, and let the sensor tick again on the same files
            kill(daemon)
            restarted = time.time()
            daemon = runner.start_daemon(env, log)
            wait(lambda: any(t.timestamp > restarted and t.status.value != "STARTED" for t in ticks(instance)),
                 "a tick after the second restart", timeout=180, log=log)
            final = sensor_runs(instance)
        finally:
            runner.stop_process(daemon)

    keys = [r.tags["dagster/run_key"] for r in final]
    assert len(first_pass) == len(final) == total
    assert len(set(keys)) == len(keys) == total
    assert {(r.tags["dagster/partition"], r.asset_selection) for r in final} == {
        ((FIRST + dt.timedelta(days=i)).isoformat(), frozenset({dg.AssetKey(a), dg.AssetKey(f"{a}_quarantine")}))
        for i in range(DAYS) for a in ("telemetry_metrics", "service_logs")}
    print(f"killed with {at_kill} of {total} runs created; after two restarts: {len(final)} runs, {len(set(keys))} run keys")
