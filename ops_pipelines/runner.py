"""Drive a Dagster instance the way production does: a daemon process dequeues runs and ticks
sensors; runs are submitted to the instance's queue (as the nightly schedule would submit them)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ops_pipelines import keys

# The repository's workspace file names the location "ops_pipelines", as pyproject's [tool.dg.project] does;
# `-m ops_pipelines.definitions` would name it after the module and Dagster would warn on every load.
LOCATION_NAME = "ops_pipelines"
CODE_LOCATION = ["-w", str(Path(__file__).resolve().parent.parent / "workspace.yaml")]
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def dagster_bin(name: str) -> str:
    # The same environment as this interpreter, whether or not it is on PATH.
    return str(Path(sys.executable).parent / name)


# One OpenMP (and BLAS) thread per process unless the caller's environment says otherwise: two runs share the two
# cores here (a day beside the day before's pages or retraining), and HistGradientBoosting's second thread spun
# waiting for a busy core (demo: 398 against 429 CPU-s, 280 against 294 s). Sums then no longer depend on the
# machine's core count either.
THREAD_DEFAULTS = {"OMP_NUM_THREADS": "1"}


def start_process(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """A child in its own process group, so stopping it also stops what it started (code servers, run
    workers); remembered until stopped, so `owned_children` can stop it on any exit."""
    out = open(log, "ab") if log else None  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(args, env={**THREAD_DEFAULTS, **env}, stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True)
    _started.append(proc)
    return proc


def run_process(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a short-lived child to its end in its own process group: (exit code, stderr). Interrupted, it
    stops the child's whole group before re-raising (`subprocess.run` would kill the child alone)."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _started.append(proc)
    try:
        _, stderr = proc.communicate()
    finally:
        stop_process(proc)
    return proc.returncode, stderr


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the child's process group, SIGKILL after `timeout` seconds; then forget the child (not
    before: interrupted meanwhile, `owned_children` still stops it)."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # The group outlives its leader when the leader exits first (a code server, a run worker): kill the rest.
    _signal_group(proc, signal.SIGKILL)
    proc.wait()
    if proc in _started:
        _started.remove(proc)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_started(timeout: float = 20.0) -> None:
    """Stop every child this process started and has not stopped yet: SIGTERM to all at once, then each is
    waited for (SIGKILL once `timeout` seconds have passed for all of them together)."""
    procs = list(reversed(_started))
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        stop_process(proc, timeout=max(deadline - time.monotonic(), 0.1))


# Every child started here and not yet stopped. A daemon left behind keeps ticking sensors and starting
# code servers for hours, so a command that starts one stops it however it ends.
_started: list[subprocess.Popen] = []
atexit.register(stop_started)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def owned_children():
    """Within: SIGTERM and SIGHUP raise KeyboardInterrupt like Ctrl-C does; on leaving, however (return, error,
    signal), every child started in it is stopped with its process group (a second signal meanwhile is ignored)."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (*STOP_SIGNALS, signal.SIGINT)}
        try:
            stop_started()
        finally:
            for sig, handler in {**ignored, **previous}.items():
                signal.signal(sig, handler)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def start_daemon(env: dict[str, str], log: Path | None = None, target: list[str] | None = None) -> subprocess.Popen:
    """`dagster-daemon run` over `target` (workspace arguments; default the repository's workspace file)."""
    return start_process([dagster_bin("dagster-daemon"), "run", *(target or CODE_LOCATION)], env, log)


@contextlib.contextmanager
def code_server(env: dict[str, str], log: Path | None = None, timeout: float = 600.0):
    """One code server for everything started within (daemon, run launches, webserver): yields the workspace
    arguments that point at it. Without it each of them starts code servers of its own, and the daemon
    replaces its code server every minute: a Python process loading the whole code location each time."""
    import socket
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # `dagster code-server start` whose run workers fork with the imports done (code_server.py)
    proc = start_process([sys.executable, "-m", "ops_pipelines.code_server", "code-server", "start", "-h", "127.0.0.1",
                          "-p", str(port), "--location-name", LOCATION_NAME, "-m", "ops_pipelines.definitions"], env, log)
    with tempfile.TemporaryDirectory(prefix="ops_workspace_") as tmp:
        workspace = Path(tmp, "workspace.yaml")
        workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n"
                             f"      location_name: {LOCATION_NAME}\n")
        try:
            wait_for(lambda: _serving(port), timeout, "the code server", proc)
            yield ["-w", str(workspace)]
        finally:
            # Its gRPC server waits up to 60 s for open calls on SIGTERM, and after runs one stays open: 20 s
            # of every demo went there. Its runs are over or stopped by now; it holds nothing worth a longer wait.
            stop_process(proc, timeout=1)


def _serving(port: int) -> bool:
    """True once the gRPC server on `port` answers its health check as serving (its code is loaded then)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="DagsterApi"), timeout=2)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


REPOSITORY_NAME = "__repository__"
# The UI's own route to the run queue (`dagster job launch` cannot select assets; `dg launch` executes in
# process, past the queue and the daemon).
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""


def launch_run(job: str, partition: str, tags: dict[str, str], env: dict[str, str], assets: list[str] | None = None,
               run_config: dict | None = None, target: list[str] | None = None) -> str:
    """Submit a partition run of `job` (only `assets` of it when given, with `run_config`) to the instance's run
    queue, as the UI's launchpad does, from a `dagster-graphql` process on the instance `env` names; the daemon
    launches it. Returns the run id."""
    import tempfile

    variables = {"params": _launch_params(job, partition, tags, assets, run_config)}
    with tempfile.TemporaryDirectory(prefix="ops_launch_") as tmp:
        answer = Path(tmp, "answer.json")
        code, stderr = run_process(
            [dagster_bin("dagster-graphql"), *(target or CODE_LOCATION), "-t", LAUNCH_RUN, "-v", json.dumps(variables),
             "-o", str(answer)], env)
        reply = json.loads(answer.read_text()) if answer.exists() and code == 0 else None
    return _run_id(job, partition, reply, stderr)


@contextlib.contextmanager
def run_submitter(instance, target: list[str]):
    """Yields `submit(job, partition, tags, assets=None, run_config=None, checks=None) -> run id` (`checks`: the
    (asset, check name) pairs a run of `assets` evaluates; None: all of theirs): `launch_run` from this
    process, through one workspace context on `target` for every run (a `dagster-graphql` process per run
    spends about 2.5 s importing Dagster and loading the workspace)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql import __version__
    from dagster_graphql.cli import execute_query

    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[target[-1]]), version=__version__) as context:
        def submit(job: str, partition: str, tags: dict[str, str], assets: list[str] | None = None,
                   run_config: dict | None = None, checks: list[tuple[str, str]] | None = None) -> str:
            variables = {"params": _launch_params(job, partition, tags, assets, run_config, checks)}
            return _run_id(job, partition, execute_query(context, LAUNCH_RUN, variables))

        yield submit


def _launch_params(job: str, partition: str, tags: dict[str, str], assets: list[str] | None,
                   run_config: dict | None, checks: list[tuple[str, str]] | None = None) -> dict:
    selector: dict[str, Any] = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME, "jobName": job}
    if assets is not None:
        selector["assetSelection"] = [{"path": [key]} for key in assets]
    if checks is not None:  # without it, a subset runs every check of its assets, the freshness checks too
        selector["assetCheckSelection"] = [{"assetKey": {"path": [asset]}, "name": name} for asset, name in checks]
    return {"selector": selector, "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in {"dagster/partition": partition, **tags}.items()]}}


def _run_id(job: str, partition: str, reply: dict | None, stderr: str = "") -> str:
    """The launched run's id from the GraphQL answer; RuntimeError saying why when there is none."""
    result = ((reply or {}).get("data") or {}).get("launchRun") or {}
    if result.get("__typename") != "LaunchRunSuccess":
        raise RuntimeError(f"could not submit {job} for {partition}: {_launch_error(reply, result, stderr)}")
    return result["run"]["runId"]


def _launch_error(reply: dict | None, result: dict, stderr: str) -> str:
    if reply is None:  # the process failed before answering (code location did not load, instance unreachable)
        return stderr.strip()[-2000:] or "dagster-graphql gave no answer"
    if result:
        detail = result.get("message") or "; ".join(e["message"] for e in result.get("errors", []))
        return f"{result.get('__typename')}: {detail.strip()[:2000]}"
    return json.dumps(reply.get("errors"))[:2000]


def wait_for(predicate, timeout: float, what: str, alive: subprocess.Popen | None = None, poll: float = 0.5) -> Any:
    """Poll until `predicate()` returns something truthy; fail clearly on timeout or a dead process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"{_name(alive)} exited (code {alive.returncode}) while waiting for {what}")
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_status(instance, run_id: str) -> str | None:
    run = instance.get_run_by_id(run_id)
    return run.status.value if run is not None else None


def sensor_cursor(instance, sensor_name: str) -> str | None:
    for state in instance.all_instigator_state():
        if state.name == sensor_name and state.instigator_data is not None:
            return getattr(state.instigator_data, "cursor", None)
    return None


def active_statuses() -> list:
    """The statuses of a run that has not finished."""
    import dagster as dg

    return [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def active_runs(instance, job_name: str) -> list:
    import dagster as dg

    return instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=active_statuses()))


def cancel_unfinished(instance, since, why: str) -> list[str]:
    """Mark every run created after `since` (a UTC datetime) that has not finished as canceled, with `why`: the
    daemon that was to launch or run it (ours: days, retraining, the freshness sensor's check runs) has stopped,
    and nothing else would end it. Called once every process that could start runs has stopped; through an
    instance of its own, since the caller's may have been interrupted mid-query."""
    import dagster as dg

    ended: list[str] = []
    with dg.DagsterInstance.from_ref(instance.get_ref()) as fresh:
        for _ in range(3):  # read back: a run whose cancel did not stick is canceled again
            left = fresh.get_runs(filters=dg.RunsFilter(statuses=active_statuses(), created_after=since))
            for run in left:
                fresh.report_run_canceled(run, message=why)
                ended.append(run.run_id)
            if not left:
                break
    return list(dict.fromkeys(ended))


def finished_status(instance, run_id: str) -> str | None:
    """The run's final status, or None while it is still queued or running."""
    status = run_status(instance, run_id)
    return status if status in FINISHED else None


def final_run(instance, run_id: str, timeout: float, what: str, daemon: subprocess.Popen | None = None) -> tuple[str, str, int]:
    """Wait for a run to finish and follow its retries (Dagster's for a crashed worker, ours for an instance
    database that went away) to the last one: (run id, status, retries)."""
    retries = 0
    while True:
        status = wait_for(lambda r=run_id: finished_status(instance, r), timeout, what, daemon)
        retry = retry_of(instance, run_id, timeout, daemon) if status == "FAILURE" else None
        if retry is None:
            return run_id, status, retries
        run_id, retries = retry, retries + 1


def retry_of(instance, run_id: str, timeout: float, daemon: subprocess.Popen | None) -> str | None:
    """The run that retries a failed run, once it exists; None when nothing will retry it."""
    import dagster as dg

    from ops_pipelines.lib.platform.retries import RETRY_OF_TAG, retry_attempt, storage_outage

    run = instance.get_run_by_id(run_id)
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    errors = [getattr(e.dagster_event.event_specific_data, "error", None) for e in instance.all_logs(run_id, of_type=kinds)]
    ours = storage_outage(errors) and retry_attempt(run.tags) is not None and not sensor_stopped(instance, STORAGE_RETRY_SENSOR)
    if run.tags.get("dagster/will_retry") != "true" and not ours:
        return None

    def found() -> str | None:  # Dagster's retry, or ours when Dagster's could not be launched
        tags = instance.get_run_by_id(run_id).tags
        mine = instance.get_runs(filters=dg.RunsFilter(tags={RETRY_OF_TAG: run_id}), limit=1)
        if tags.get("dagster/auto_retry_run_id") or mine:
            return tags.get("dagster/auto_retry_run_id") or mine[0].run_id
        return NO_RETRY if tags.get("dagster/will_retry") == "false" and not ours else None

    retry = wait_for(found, timeout, f"the automatic retry of run {run_id}", daemon)
    return None if retry == NO_RETRY else retry


def _name(proc: subprocess.Popen) -> str:
    args = proc.args if isinstance(proc.args, list) else [str(proc.args)]
    return "the Dagster daemon" if "dagster-daemon" in args[0] else f"`{Path(args[0]).name} {' '.join(args[1:3])}`"


NO_RETRY = "-"  # Dagster's retry could not be launched and ours does not apply


STORAGE_RETRY_SENSOR = "storage_outage_retry_sensor"


def await_sensor_runs(instance, asset: str, partition: str, sensor: str, job: str, daemon: subprocess.Popen,
                      timeout: float, finished: bool = True) -> list:
    """Wait until `sensor` has read the newest materialization of `asset`'s partition (the runs it launched
    are in the queue by then) and, when `finished`, every `job` run is done; return the `job` runs for that day
    (as the retraining sensor tags them), oldest first."""
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1).records
    if records:
        storage_id = records[0].storage_id
        wait_for(lambda: int(sensor_cursor(instance, sensor) or 0) >= storage_id, timeout, f"the sensor {sensor}", daemon)
    if finished:
        wait_for(lambda: not active_runs(instance, job), timeout, f"{job} runs", daemon)
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job, tags={keys.PARTITION_DATE: partition}))
    return list(reversed(runs))


def sensor_stopped(instance, sensor_name: str) -> bool:
    """True when someone stopped the sensor on this instance (a default-running one has no state until then)."""
    return any(state.name == sensor_name and state.status.value == "STOPPED" for state in instance.all_instigator_state())


def failure_reason(instance, run_id: str) -> str:
    """One line on why a run did not succeed: its first failed step and that step's own error."""
    import dagster as dg

    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause  # Dagster wraps the asset's exception; the asset's own says what broke
        text = " ".join(line.strip() for line in (error.message if error is not None else event.message or "").splitlines())
        text = re.sub(r"^(?:\w+\.)+(?=\w+(?:Error|Exception)\b)", "", text.strip())  # the class name without its module
        where = f"{event.step_key}: " if event.step_key else ""
        return where + (text[:300] or event.event_type_value)
    return "no failure event recorded (see the run in the UI)"
