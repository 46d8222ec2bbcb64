"""A demo stopped mid-way (SIGTERM from a service manager or `timeout`, SIGINT from Ctrl-C) leaves no
process behind: its daemon, the code servers the daemon started and the run worker are all gone, and the
run it was running is marked canceled in the instance instead of "started" forever.

Every process the demo starts inherits its OPS_PIPELINES_HOME, a temp folder unique to the test, so a
process left behind is found by that mark in /proc/<pid>/environ, whoever its parent became."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.procs import processes

TIMEOUT_S = 600.0  # timeouts, not timing assertions: the demo starts a daemon and a run on 2 busy cores


def marked(home: Path) -> dict[int, str]:
    """pid -> command line of every live process whose environment names `home` as the data home."""
    mark = f"OPS_PIPELINES_HOME={home}".encode()
    return {p.pid: p.cmdline for p in processes() if p.state != "Z" and mark in p.environ()}


def wait_until(what: str, predicate, proc: subprocess.Popen, log: Path, timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert proc.poll() is None, f"the demo exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    pytest.fail(f"no {what} after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def run_worker(home: Path) -> list[str]:
    # The code server starts each run in a spawned Python process (multiprocessing's spawn_main).
    return [cmd for cmd in marked(home).values() if "spawn_main" in cmd or "execute_run" in cmd]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_demo_stopped_mid_run_leaves_no_process_and_no_run_marked_running(tmp_path, sig):
    home, log = tmp_path / "home", tmp_path / "demo.log"
    env = {**os.environ, "OPS_PIPELINES_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("DAGSTER_HOME", None)
    with open(log, "wb") as out:
        # A job started in the background by a non-interactive shell (as CI may start pytest) inherits SIGINT
        # ignored, and Python then never turns Ctrl-C into KeyboardInterrupt: give the demo a terminal's default.
        demo = subprocess.Popen([sys.executable, "-m", "ops_pipelines.cli", "demo", "--days", "2"], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until("daemon", lambda: any("dagster-daemon" in c for c in marked(home).values()), demo, log)
        wait_until("run worker", lambda: run_worker(home), demo, log)
        demo.send_signal(sig)
        assert demo.wait(timeout=120) == 130, log.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    deadline = time.monotonic() + 30  # a process killed a moment ago may still be leaving /proc
    while marked(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert marked(home) == {}, f"left behind after {sig.name}: {marked(home)}\n{log.read_text()[-2000:]}"
    assert "demo stopped" in log.read_text()

    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert runs, "the demo launched no run before it was stopped"
        unfinished = [(r.run_id, r.job_name, r.status.value, dict(r.tags)) for r in runs if not r.is_finished]
    assert unfinished == [], log.read_text()[-3000:]
