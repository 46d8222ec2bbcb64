"""The run-failure sensor records an alert for a real failed run and posts it to the webhook:
credentials in the URL go into a Basic auth header and never into a log or a file; a failing webhook
is retried with backoff, and one that stays down is recorded and logged."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import dagster as dg
import pytest

from ops_pipelines.defs.platform.alerts import run_failure_sensor
from ops_pipelines.lib.platform import alerts
from ops_pipelines.lib.platform.alerts import (
    WEBHOOK_ENV,
    append_alert,
    failure_alert,
    post_alert,
    redact,
    webhook_url,
)

SECRET = "/hooks/T000/B000/s3cr3t-token"
USER, PASSWORD = "alerts-bot", "Pl4nted-Hook-P4ss"


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
        statuses: ClassVar[list[int]] = []  # scripted statuses for the first requests, then `status`
        auth: ClassVar[list[str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            Hook.bodies.append({"path": self.path, "type": self.headers["Content-Type"],
                                "json": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            Hook.auth.append(self.headers.get("Authorization"))
            self.send_response(Hook.statuses.pop(0) if Hook.statuses else Hook.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hook.port = server.server_port
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


@pytest.fixture
def waits(monkeypatch):
    """Record back-off waits instead of sleeping (no timing in tests)."""
    recorded: list[float] = []
    monkeypatch.setattr(alerts, "_sleep", recorded.append)
    return recorded


def sensor_log(capfd) -> str:
    """What the sensor logged (Dagster's log manager writes to stderr; the daemon keeps it as the tick's log)."""
    return capfd.readouterr().err


def dead_port() -> int:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_webhook_that_fails_first_is_retried_with_backoff_and_delivered(home, webhook, monkeypatch, waits, capfd):
    webhook.statuses = [503, 502]
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    context, run = failed_run_context()
    run_failure_sensor(context)
    assert len(webhook.bodies) == 3 and all(b["json"]["run_id"] == run.run_id for b in webhook.bodies)
    assert waits == [1.0, 2.0]  # exponential backoff between the attempts
    assert [a["kind"] for a in read_alerts(home)] == ["run_failure"]  # delivered: nothing more to record
    assert "HTTP 200 from http://127.0.0.1/... (attempt 3)" in sensor_log(capfd)


def test_a_dead_webhook_is_retried_then_recorded_and_logged_with_its_host_only(home, monkeypatch, waits, capfd):
    monkeypatch.setenv(WEBHOOK_ENV, f"http://{USER}:{PASSWORD}@127.0.0.1:{dead_port()}{SECRET}")
    context, run = failed_run_context()
    run_failure_sensor(context)  # does not raise
    assert waits == [1.0, 2.0, 4.0]
    alert, failure = read_alerts(home)
    assert alert["kind"] == "run_failure" and failure["kind"] == "webhook_failure"
    assert failure["run_id"] == run.run_id and failure["attempts"] == 4 and failure["webhook"] == "http://127.0.0.1/..."
    assert "ConnectionRefusedError" in failure["reason"] or "Connection refused" in failure["reason"]
    logged = sensor_log(capfd)
    assert "NOT delivered to http://127.0.0.1/..." in logged
    stored = (home / "alerts" / "run_failures.jsonl").read_text() + logged
    for secret in (PASSWORD, "s3cr3t", USER):
        assert secret not in stored


@pytest.mark.parametrize("status,attempts", [(500, 4), (429, 4), (404, 1), (401, 1)])
def test_only_errors_that_may_pass_are_retried(home, webhook, monkeypatch, waits, status, attempts):
    webhook.status = status
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    context, _ = failed_run_context()
    run_failure_sensor(context)  # does not raise
    assert len(webhook.bodies) == attempts
    alert, failure = read_alerts(home)
    assert failure["attempts"] == attempts and failure["reason"].startswith(f"HTTP {status} from http://127.0.0.1/...")


def test_credentials_in_the_webhook_url_are_sent_as_basic_auth_and_never_logged(home, webhook, monkeypatch, capfd):
    monkeypatch.setenv(WEBHOOK_ENV, f"http://{USER}:{PASSWORD}@127.0.0.1:{webhook.port}{SECRET}")
    context, run = failed_run_context()
    run_failure_sensor(context)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert webhook.auth == [f"Basic {token}"] and webhook.bodies[0]["path"] == SECRET
    assert webhook.bodies[0]["json"]["run_id"] == run.run_id
    stored = (home / "alerts" / "run_failures.jsonl").read_text() + sensor_log(capfd)
    assert PASSWORD not in stored and token not in stored and "s3cr3t" not in stored


def test_a_url_urllib_cannot_parse_is_reported_without_the_password(waits):
    # No port: urllib reads "pass@localhost" as the port and raises InvalidURL quoting it.
    delivery = post_alert(f"http://{USER}:{PASSWORD}@localhost{SECRET}", {"a": 1}, timeout=2.0)
    assert not delivery.delivered and PASSWORD not in delivery.outcome and "s3cr3t" not in delivery.outcome
    assert "localhost" in delivery.outcome


def test_an_unreachable_webhook_reports_without_the_secret(waits):
    delivery = post_alert(f"http://127.0.0.1:{dead_port()}{SECRET}", {"a": 1}, timeout=2.0)
    assert not delivery.delivered and "s3cr3t" not in delivery.outcome and "127.0.0.1" in delivery.outcome
    assert delivery.attempts == 4 and waits == [1.0, 2.0, 4.0]


def test_retries_stop_when_the_time_budget_is_spent():
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    delivery = post_alert(f"http://127.0.0.1:{dead_port()}{SECRET}", {"a": 1}, budget_s=2.5, sleep=sleep,
                          now=lambda: clock[0])
    # 1 s wait fits in 2.5 s, the next 2 s would not: two attempts, then give up.
    assert delivery.attempts == 2 and waits == [1.0] and "gave up after 2 attempt(s)" in delivery.outcome


def test_redact_keeps_only_scheme_and_host():
    assert redact("https://user:pw@hooks.example.com:8443/services/T/B/token?x=1") == "https://hooks.example.com/..."
    assert redact(f"http://{USER}:{PASSWORD}@localhost/x") == "http://localhost/..."


def test_request_parts_move_credentials_into_a_basic_auth_header():
    url, headers = alerts.request_parts("https://bot%40corp:p%3Ass@hooks.example.com:8443/a?b=1")
    assert url == "https://hooks.example.com:8443/a?b=1"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"bot@corp:p:ss").decode()}
    assert alerts.request_parts("https://hooks.example.com/a") == ("https://hooks.example.com/a", {})


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
