"""Secrets this deployment is configured with, and scrubbing them from anything we log, store or return.

A secret can reach our text by an unexpected road: a server that echoes the API key in its reply,
an exception that quotes the URL it failed on. Every error, metadata value and cached value built
from outside input goes through `scrub`, which replaces each configured secret (and the encodings it
travels in: URL-quoted, JSON-escaped, and the base64 of `user:password` a Basic auth header carries)
with `***`. Scrubbing happens before any text is cut short, so a cut cannot leave half a secret.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# Shorter values would mask ordinary words everywhere; a real key, token or password is longer.
MIN_SECRET_CHARS = 4
# Variables holding a secret outright, and variables holding a URL whose credentials and path are secret.
SECRET_ENV = ("OPS_LLM_JUDGE_API_KEY", "DAGSTER_PG_PASSWORD")
SECRET_URL_ENV = ("OPS_PIPELINES_ALERT_WEBHOOK_URL", "OPS_LLM_JUDGE_BASE_URL", "OPS_MLFLOW_TRACKING_URI")


def url_secrets(url: str | None, *, path_is_secret: bool = False) -> list[str]:
    """The secret parts of a URL: its password (as written and decoded), the `user:password` pair in
    the forms a Basic auth header carries, and, when `path_is_secret` (webhooks carry their token in
    the path), the path and query."""
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:  # e.g. a port that is not a number: the netloc's userinfo is still secret
        return [url.strip()]
    found: list[str] = []
    if password is not None:
        user = unquote(parts.username or "")
        found += [password, unquote(password), f"{user}:{unquote(password)}", parts.netloc.rpartition("@")[0]]
        found.append(base64.b64encode(f"{user}:{unquote(password)}".encode()).decode())
    if path_is_secret:
        found += [p for p in (parts.path, parts.query) if p not in ("", "/")]
    return found


def configured_secrets(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Every secret this process is configured with (from the environment): API keys, passwords,
    and the credentials and tokens inside configured URLs."""
    found = [environ.get(name, "") for name in SECRET_ENV]
    for name in SECRET_URL_ENV:
        found += url_secrets(environ.get(name), path_is_secret=name == "OPS_PIPELINES_ALERT_WEBHOOK_URL")
    return _usable(found)


def _usable(values: Iterable[str | None]) -> list[str]:
    out: set[str] = set()
    for value in values:
        if not value or len(value) < MIN_SECRET_CHARS:
            continue
        out |= {value, quote(value, safe=""), json.dumps(value)[1:-1]}
    # Longest first, so a secret that contains another is masked whole.
    return sorted((v for v in out if len(v) >= MIN_SECRET_CHARS), key=lambda v: (-len(v), v))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and its URL-quoted and JSON-escaped forms) replaced by `***`."""
    for secret in _usable(secrets):
        text = text.replace(secret, MASK)
    return text


def scrub_value(value: Any, secrets: Iterable[str]) -> Any:
    """`scrub` applied to every string inside dicts, lists and tuples (keys included)."""
    secrets = _usable(secrets)
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, Mapping):
        return {scrub_value(k, secrets): scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_value(v, secrets) for v in value)
    return value
