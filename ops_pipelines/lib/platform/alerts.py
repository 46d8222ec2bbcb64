"""Run-failure alerts: an append-only JSONL record, and an optional webhook POST with retries.

The webhook URL is a secret of the deployment: its path usually carries a token and it may carry
`user:password@`. Credentials are sent as a Basic auth header (urllib cannot take them in the URL:
`http://user:pass@host/` fails with the password in the error). Only scheme and host are ever
logged or stored.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from ops_pipelines.lib.secrets import configured_secrets, scrub, url_secrets

WEBHOOK_ENV = "OPS_PIPELINES_ALERT_WEBHOOK_URL"
TIMEOUT_S = 5.0  # per attempt
ATTEMPTS = 4
BACKOFF_S = 1.0  # waits 1, 2, 4 s between attempts
# The sensor must not hold up the daemon: all attempts and waits together stay under this.
BUDGET_S = 20.0
MAX_ERROR_CHARS = 2000


class Delivery(NamedTuple):
    delivered: bool
    outcome: str  # the last attempt's outcome: scheme and host only, never the path or credentials
    attempts: int


def failure_alert(run_id: str, job: str, partition: str | None, failed_steps: Sequence[str], error: str | None,
                  failed_at: float, secrets: Sequence[str] = ()) -> dict:
    """The alert record: plain JSON types, the error scrubbed of `secrets` and cut to its first
    MAX_ERROR_CHARS characters, `failed_at` in epoch seconds (and as UTC ISO text for people)."""
    return {
        "kind": "run_failure",
        "run_id": run_id,
        "job": job,
        "partition": partition,
        "failed_steps": sorted(set(failed_steps)),
        "error": scrub(error or "", secrets)[:MAX_ERROR_CHARS],
        "failed_at": failed_at,
        "failed_at_utc": dt.datetime.fromtimestamp(failed_at, tz=dt.UTC).isoformat(timespec="seconds"),
    }


def delivery_failure(alert: Mapping, url: str, delivery: Delivery, at: float) -> dict:
    """The record of a webhook that could not be reached for `alert`: host and reason, never the URL."""
    return {"kind": "webhook_failure", "run_id": alert.get("run_id"), "webhook": redact(url),
            "attempts": delivery.attempts, "reason": delivery.outcome, "at": at,
            "at_utc": dt.datetime.fromtimestamp(at, tz=dt.UTC).isoformat(timespec="seconds")}


def append_alert(path: Path, alert: Mapping) -> None:
    """Append one JSON line (sorted keys: the same alert gives the same bytes); never rewrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def webhook_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The webhook from the environment, or None when unset or not http(s)."""
    url = (environ.get(WEBHOOK_ENV) or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc.rpartition("@")[2] else None


def redact(url: str) -> str:
    """Scheme and host only: webhook paths and queries usually carry the secret token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{host or '?'}/..."


def request_parts(url: str) -> tuple[str, dict[str, str]]:
    """The URL without `user:password@`, and the Basic auth header carrying them (if any)."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if not userinfo:
        return url, {}
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urlunsplit(parts._replace(netloc=hostport)), {"Authorization": f"Basic {token}"}


def _attempt(url: str, body: bytes, timeout: float, secrets: Sequence[str]) -> tuple[bool, str, bool]:
    """One POST: (delivered, outcome, worth retrying). Never raises."""
    host = redact(url)
    try:
        target, auth = request_parts(url)
        request = urllib.request.Request(target, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "ops-pipelines-alerts", **auth})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300, f"HTTP {response.status} from {host}", False
    except urllib.error.HTTPError as exc:
        # 429 and 5xx may pass; another 4xx (wrong path, refused credentials) will not.
        return False, f"HTTP {exc.code} from {host}", exc.code == 429 or exc.code >= 500
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{type(exc).__name__} ({scrub(str(reason), secrets)[:200]}) posting to {host}", True
    except ValueError as exc:  # not a URL urllib can use: retrying will not fix it
        return False, f"{type(exc).__name__} ({scrub(str(exc), secrets)[:200]}) posting to {host}", False


def _sleep(seconds: float) -> None:  # seams for tests: they record waits instead of sleeping
    time.sleep(seconds)


def _now() -> float:
    return time.monotonic()


def post_alert(url: str, alert: Mapping, *, timeout: float = TIMEOUT_S, attempts: int = ATTEMPTS,
               backoff_s: float = BACKOFF_S, budget_s: float = BUDGET_S,
               sleep: Callable[[float], None] | None = None, now: Callable[[], float] | None = None) -> Delivery:
    """POST the alert as JSON; retry connection errors, timeouts, 429 and 5xx with exponential
    backoff while the time budget lasts. Failures are reported, never raised."""
    sleep, now = sleep or _sleep, now or _now
    secrets = [*url_secrets(url, path_is_secret=True), url, *configured_secrets()]
    body = json.dumps(alert, sort_keys=True, allow_nan=False).encode()
    deadline = now() + budget_s
    outcome, tried = "not attempted", 0
    for attempt in range(max(1, attempts)):
        left = deadline - now()
        if left <= 0:
            break
        tried += 1
        delivered, outcome, retry = _attempt(url, body, min(timeout, left), secrets)
        if delivered or not retry:
            return Delivery(delivered, outcome, tried)
        wait = backoff_s * 2**attempt
        if attempt == attempts - 1 or now() + wait >= deadline:
            break
        sleep(wait)
    return Delivery(False, f"{outcome}; gave up after {tried} attempt(s)", tried)
