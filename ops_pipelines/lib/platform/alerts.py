"""Run-failure alerts: an append-only JSONL record, and an optional webhook POST."""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

WEBHOOK_ENV = "OPS_PIPELINES_ALERT_WEBHOOK_URL"
TIMEOUT_S = 5.0  # one attempt, short: a dead webhook must not hold up the sensor daemon
MAX_ERROR_CHARS = 2000


def failure_alert(run_id: str, job: str, partition: str | None, failed_steps: Sequence[str], error: str | None,
                  failed_at: float) -> dict:
    """The alert record: plain JSON types, the error cut to its first MAX_ERROR_CHARS characters,
    `failed_at` in epoch seconds (and as UTC ISO text for people)."""
    return {
        "kind": "run_failure",
        "run_id": run_id,
        "job": job,
        "partition": partition,
        "failed_steps": sorted(set(failed_steps)),
        "error": (error or "")[:MAX_ERROR_CHARS],
        "failed_at": failed_at,
        "failed_at_utc": dt.datetime.fromtimestamp(failed_at, tz=dt.UTC).isoformat(timespec="seconds"),
    }


def append_alert(path: Path, alert: Mapping) -> None:
    """Append one JSON line (sorted keys: the same alert gives the same bytes); never rewrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def webhook_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The webhook from the environment, or None when unset or not http(s)."""
    url = (environ.get(WEBHOOK_ENV) or "").strip()
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc else None


def redact(url: str) -> str:
    """Scheme and host only: webhook paths and queries usually carry the secret token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/..."


def post_alert(url: str, alert: Mapping, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """POST the alert as JSON once; (delivered, short outcome). Failures are reported, never raised."""
    body = json.dumps(alert, sort_keys=True, allow_nan=False).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "ops-pipelines-alerts"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300, f"HTTP {response.status} from {redact(url)}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code} from {redact(url)}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{type(exc).__name__} ({str(reason).replace(url, redact(url))[:200]}) posting to {redact(url)}"
