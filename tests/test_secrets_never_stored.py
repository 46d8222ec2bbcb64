"""Planted secrets never reach disk: a webhook URL with a password and a judge API key, set to
distinctive strings, go through a real daemon (run failure -> run_failure_sensor -> webhook) and a real
run (the judge against a scripted 127.0.0.1 server that echoes the key back in every way it can and
fails); then every file of the Dagster instance (SQLite event log, runs, ticks, compute logs), the
daemon log, and the data home's storage, reports, alerts, judge cache and MLflow store is searched for
them (issue 12, defects 5 and 8)."""

import base64
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pandas as pd
import pytest

from ops_pipelines import runner
from ops_pipelines.cli import INSTANCE_YAML
from ops_pipelines.lib.platform.home import init_home
from tests.lib.llmops.judge_server import JudgeServer

REPO = Path(__file__).resolve().parent.parent
LOCATION = ["-m", "tests.defs.secrets_location"]
DAY = "2026-03-02"
HOOK_USER, HOOK_PASSWORD, HOOK_TOKEN = "alertbot", "PlantedHookPass-7Qx2v9", "PlantedPathToken-k3L8"
JUDGE_KEY = "sk-PlantedJudgeKey-Zq81xk4Wm"
SCENARIOS = ["echonotchat", "echoreason", "echotext", "echo500", "unauthorized", "ok"]
TIMEOUT_S = 300  # for the daemon to run the job and tick the sensor: a timeout, not a timing assertion


def planted_forms() -> dict[str, bytes]:
    """Each planted secret in every form it could be written in."""
    forms = {}
    for secret in (HOOK_PASSWORD, HOOK_TOKEN, JUDGE_KEY):
        forms[secret] = secret.encode()
        forms[f"quoted {secret}"] = quote(secret, safe="").encode()
        forms[f"base64 {secret}"] = base64.b64encode(secret.encode())
    forms["basic auth header"] = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode())
    return forms


@pytest.fixture
def webhook():
    """A webhook on 127.0.0.1 that wants Basic auth: it records every POST and its Authorization header."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), "json": body})
            expected = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
            self.send_response(200 if self.headers.get("Authorization") == expected else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, received
    finally:
        server.shutdown()
        server.server_close()


def write_traces(landing: Path) -> None:
    rows = [{"trace_id": f"t-{name}", "timestamp": f"{DAY}T10:{i:02d}:00Z", "app": "support", "model": "gpt-x",
             "prompt_template_id": "support", "prompt_version": "support-v1", "question": "How do I reset my password?",
             "contexts": ["Passwords are reset from the account page."],
             "answer": f"Open the account page. [scenario:{name}]", "latency_ms": 800, "input_tokens": 120,
             "output_tokens": 30, "status": "ok"} for i, name in enumerate(SCENARIOS)]
    path = landing / "llm_traces" / DAY / "traces.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def wait_for(what: str, predicate, daemon, log: Path):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert daemon.poll() is None, f"dagster-daemon exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def test_planted_secrets_appear_in_no_file_of_the_instance_logs_or_data_home(tmp_path, webhook, monkeypatch):
    home = tmp_path / "home"
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML)
    monkeypatch.delenv("OPS_MLFLOW_TRACKING_URI", raising=False)
    init_home(home)  # the MLflow store is part of what is searched
    write_traces(home / "landing")
    port, received = webhook
    log = home / "logs" / "dagster-daemon.log"

    with JudgeServer() as judge:
        env = {**os.environ, "OPS_PIPELINES_HOME": str(home), "DAGSTER_HOME": str(dagster_home),
               "DAGSTER_DISABLE_TELEMETRY": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               "OPS_PIPELINES_ALERT_WEBHOOK_URL": f"http://{HOOK_USER}:{HOOK_PASSWORD}@127.0.0.1:{port}/hooks/{HOOK_TOKEN}",
               "OPS_LLM_JUDGE_BASE_URL": judge.url, "OPS_LLM_JUDGE_MODEL": "judge-m", "OPS_LLM_JUDGE_API_KEY": JUDGE_KEY}
        env.pop("OPS_LLM_JUDGE_ENABLED", None)
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        with dg.DagsterInstance.get() as instance:
            instance.get_runs(limit=1)  # create the SQLite schemas before the daemon and the launcher race for them
            instance.all_instigator_state()
            daemon = runner.start_process([runner.dagster_bin("dagster-daemon"), "run", *LOCATION], env, log)
            try:
                # A run-status sensor's first tick only sets its cursor: the failure must come after it.
                first = wait_for("the sensor's first tick", lambda: runner.sensor_cursor(instance, "run_failure_sensor"),
                                 daemon, log)
                launched = subprocess.run(
                    [runner.dagster_bin("dagster"), "job", "launch", *LOCATION, "-j", "judged_job",
                     "--tags", json.dumps({"dagster/partition": DAY})],
                    env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
                assert launched.returncode == 0, launched.stderr[-3000:]
                [run] = wait_for("the run to fail", lambda: [r for r in instance.get_runs() if r.is_finished], daemon, log)
                assert run.status == dg.DagsterRunStatus.FAILURE
                wait_for("the sensor's tick on the failure", lambda: runner.sensor_cursor(instance, "run_failure_sensor") != first,
                         daemon, log)
            finally:
                runner.stop_process(daemon)

    found = []
    forms = planted_forms()
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{name} in {path.relative_to(tmp_path)}" for name, form in forms.items() if form in data]
    assert found == [], found
    # The paths really ran: the webhook got the alert with the credentials as a header, the judge got the
    # key and echoed it, and the run's outputs, errors and cache are on disk.
    token = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    assert [(r["path"], r["auth"]) for r in received] == [(f"/hooks/{HOOK_TOKEN}", f"Basic {token}")]
    assert received[0]["json"]["run_id"] == run.run_id and received[0]["json"]["failed_steps"] == ["judged_summary"]
    assert {r["headers"]["Authorization"] for r in judge.requests} == {f"Bearer {JUDGE_KEY}"}
    scores = pd.read_parquet(home / "storage" / "llm_eval_scores" / f"{DAY}.parquet").set_index("trace_id")
    assert scores.loc["t-echoreason", "judge_reason"] == "checked with credential ***"
    assert scores.loc["t-ok", "judge_error"] is None
    assert all(scores.loc[f"t-{s}", "judge_error"] for s in ("echonotchat", "echotext", "echo500", "unauthorized"))
    alerts = [json.loads(line) for line in (home / "alerts" / "run_failures.jsonl").read_text().splitlines()]
    assert [a["kind"] for a in alerts] == ["run_failure"]
    assert list((home / "judge_cache").glob("*.json")) and list((home / "mlflow").glob("*.db"))
    # What was searched holds the instance's event log and ticks, the sensor's tick log, the run's
    # compute logs and the daemon log, with the judge's retry warnings and the sensor's outcome in them.
    assert list(dagster_home.rglob("runs/*.db")) and list(dagster_home.rglob("run_failure_sensor/*.err"))
    assert list(dagster_home.rglob("compute_logs/*.err"))
    assert "LLM judge call failed (http 500" in log.read_text() and "failure alert: HTTP 200 from http://127.0.0.1/..." in log.read_text()
