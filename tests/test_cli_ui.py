"""`ops-pipelines ui --read-only`: a real webserver on 127.0.0.1 that shows the instance but refuses to
launch a run (GraphQL mutation answered with UnauthorizedError), with no daemon and no MLflow UI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.procs import processes

STARTUP_S = 240.0  # a timeout, not a timing assertion: loading the code location on 2 busy cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        answer = json.load(resp)
    assert "errors" not in answer, answer
    return answer["data"]


def children(pid: int) -> list[str]:
    """Command lines of the direct children of `pid`."""
    return [p.cmdline for p in processes() if p.ppid == pid]


@pytest.fixture
def read_only_ui(tmp_path):
    port, log = free_port(), tmp_path / "ui.log"
    env = {**os.environ, "OPS_PIPELINES_HOME": str(tmp_path / "home"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("DAGSTER_HOME", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ops_pipelines.cli", "ui", "--read-only", "--port", str(port)],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert proc.poll() is None, f"ops-pipelines ui exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no webserver after {STARTUP_S:.0f}s:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        yield base, proc, log
    finally:
        proc.send_signal(signal.SIGTERM)  # the CLI stops its children on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_read_only_ui_shows_the_graph_but_refuses_to_launch_a_run(read_only_ui):
    base, proc, log = read_only_ui
    permissions = {p["permission"]: p["value"] for p in graphql(base, "{ permissions { permission value } }")["permissions"]}
    assert permissions["launch_pipeline_execution"] is False and permissions["start_schedule"] is False
    assert graphql(base, "{ shouldShowNux }")["shouldShowNux"] is False  # a fresh instance: no welcome modal

    repos = graphql(base, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } "
                          "jobs { name } } } } }")["repositoriesOrError"]["nodes"]
    [repo] = repos
    assert "daily_job" in {job["name"] for job in repo["jobs"]}  # looking works
    launch = graphql(base, """
        mutation Launch($params: ExecutionParams!) {
          launchPipelineExecution(executionParams: $params) { __typename ... on UnauthorizedError { message } }
        }""", {"params": {"selector": {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"],
                                       "pipelineName": "daily_job"}, "mode": "default",
                          "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-03-02"}]}}})
    assert launch["launchPipelineExecution"]["__typename"] == "UnauthorizedError"
    runs = graphql(base, "{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
    assert runs == []

    # Only the webserver runs: a daemon would launch runs from schedules and sensors, MLflow's UI can move aliases.
    started = children(proc.pid)
    assert len(started) == 1 and "dagster-webserver" in started[0] and "--read-only" in started[0], started
    assert "read-only" in log.read_text()
    # The location is named as the project names it: no "code location name ... does not match" warning.
    assert "does not match the name" not in log.read_text()
