"""The run-failure sensor records an alert for a real failed run and posts it to the webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import dagster as dg
import pytest

from ops_pipelines.defs.platform.alerts import run_failure_sensor
from ops_pipelines.lib.platform.alerts import (
    WEBHOOK_ENV,
    append_alert,
    failure_alert,
    post_alert,
    redact,
    webhook_url,
)

SECRET = "/hooks/T000/B000/s3cr3t-token"


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-03-01"))
def upstream():
    return None


@dg.asset(deps=[upstream], partitions_def=dg.DailyPartitionsDefinition(start_date="2026-03-01"))
def downstream():
    raise ValueError("the input had no rows")


JOB = dg.Definitions(assets=[upstream, downstream], jobs=[dg.define_asset_job("toy_daily", [upstream, downstream])]).resolve_job_def("toy_daily")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_PIPELINES_HOME", str(tmp_path))
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    return tmp_path


@pytest.fixture
def webhook():
    """A local HTTP server on 127.0.0.1 that records POSTed bodies and answers with `status`."""

    class Hook:
        bodies: ClassVar[list[dict]] = []
        status = 200

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            Hook.bodies.append({"path": self.path, "type": self.headers["Content-Type"],
                                "json": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(Hook.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hook.url = f"http://127.0.0.1:{server.server_port}{SECRET}"
    try:
        yield Hook
    finally:
        server.shutdown()
        server.server_close()


def failed_run_context():
    instance = dg.DagsterInstance.ephemeral()
    result = JOB.execute_in_process(instance=instance, partition_key="2026-03-04", raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_sensor", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run,
    ).for_run_failure()
    return context, result.dagster_run


def read_alerts(home):
    return [json.loads(line) for line in (home / "alerts" / "run_failures.jsonl").read_text().splitlines()]


def test_a_failed_run_is_recorded_and_posted(home, webhook, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    context, run = failed_run_context()
    run_failure_sensor(context)
    [alert] = read_alerts(home)
    assert alert["run_id"] == run.run_id and alert["job"] == "toy_daily" and alert["partition"] == "2026-03-04"
    assert alert["failed_steps"] == ["downstream"]
    assert "ValueError" in alert["error"] and "the input had no rows" in alert["error"]
    assert alert["failed_at"] > 0 and alert["failed_at_utc"].endswith("+00:00")
    assert webhook.bodies == [{"path": SECRET, "type": "application/json", "json": alert}]


def test_without_a_webhook_the_alert_is_still_recorded(home, webhook):
    context, run = failed_run_context()
    run_failure_sensor(context)
    run_failure_sensor(context)  # appended, never rewritten
    assert [a["run_id"] for a in read_alerts(home)] == [run.run_id, run.run_id]
    assert webhook.bodies == []


@pytest.mark.parametrize("status", [500, 404])
def test_a_failing_webhook_is_tried_once_and_not_raised(home, webhook, monkeypatch, status):
    webhook.status = status
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    context, _ = failed_run_context()
    run_failure_sensor(context)  # does not raise
    assert len(webhook.bodies) == 1 and len(read_alerts(home)) == 1


def test_an_unreachable_webhook_reports_without_the_secret():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET}"
    delivered, outcome = post_alert(url, {"a": 1}, timeout=2.0)
    assert not delivered and "s3cr3t" not in outcome and "127.0.0.1" in outcome


def test_redact_keeps_only_scheme_and_host():
    assert redact("https://user:pw@hooks.example.com:8443/services/T/B/token?x=1") == "https://hooks.example.com/..."


@pytest.mark.parametrize("value,expected", [
    (None, None), ("", None), ("   ", None), ("ftp://example.com/x", None), ("not a url", None), ("http://", None),
    (" https://hooks.example.com/x ", "https://hooks.example.com/x"),
])
def test_webhook_url_from_the_environment(value, expected):
    assert webhook_url({} if value is None else {WEBHOOK_ENV: value}) == expected


def test_alert_lines_are_deterministic_and_appended(tmp_path):
    alert = failure_alert("r1", "daily_job", None, ["b", "a", "a"], "x" * 5000, 1_772_000_000.0)
    assert alert["failed_steps"] == ["a", "b"] and len(alert["error"]) == 2000
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    append_alert(one, alert)
    append_alert(two, dict(reversed(list(alert.items()))))
    assert one.read_bytes() == two.read_bytes()
    append_alert(one, failure_alert("r2", "daily_job", "2026-03-01", [], None, 0.0))
    lines = one.read_text().splitlines()
    assert lines[0] == two.read_text().strip() and json.loads(lines[1])["run_id"] == "r2"


def test_non_finite_times_are_refused(tmp_path):
    with pytest.raises(ValueError):
        append_alert(tmp_path / "a.jsonl", {"failed_at": float("nan")})
    assert not (tmp_path / "a.jsonl").exists() or (tmp_path / "a.jsonl").read_text() == ""


def test_the_sensor_is_registered_and_running_by_default():
    from ops_pipelines.definitions import defs

    sensor = defs.resolve_sensor_def("run_failure_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
