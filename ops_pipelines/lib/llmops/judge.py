"""Optional LLM judge on any OpenAI-compatible endpoint (`POST {base_url}/chat/completions`).

Off unless asked for; httpx sends, tenacity retries. Endpoint from `OPS_LLM_JUDGE_BASE_URL` / `OPS_LLM_JUDGE_MODEL`, the API key
only from the environment (`OPS_LLM_JUDGE_API_KEY` by default): it is sent as a bearer token and
never logged, returned or cached; a server that echoes it (in an error or in a 200 reply) has it,
and every other configured secret, scrubbed out of every error, reason and cache entry. Question, contexts and answer are PII-redacted before they leave
the machine. Results are cached, one JSON file per (trace, prompt, model, content) key, so a re-run
of a partition asks nothing twice. A reply we cannot parse, or a failed call, is an error on its
row (`judge_error`), never a crash and never a made-up score; errors are not cached.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ops_pipelines.lib.files import atomic_write_text
from ops_pipelines.lib.llmops.pii import redact
from ops_pipelines.lib.secrets import configured_secrets, scrub, scrub_value, url_secrets

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

JUDGE_PROMPT_VERSION = "judge-v1"
BASE_URL_ENV = "OPS_LLM_JUDGE_BASE_URL"
MODEL_ENV = "OPS_LLM_JUDGE_MODEL"
API_KEY_ENV = "OPS_LLM_JUDGE_API_KEY"
VERDICTS = ("good", "hallucinated", "irrelevant", "refusal")
COLUMNS = ["trace_id", "judge_groundedness", "judge_relevance", "judge_verdict", "judge_reason", "judge_error",
           "judge_cached"]
MAX_RETRY_AFTER_S = 60.0  # a server asking for longer is treated as down for this run, not waited on
MAX_ERROR_BODY_BYTES = 65_536  # read whole (then scrub, then cut): a cut first could leave half a key
_MAX_CONTEXT_CHARS = 12_000  # bounds the request size; the rubric tells the judge the context may be cut

RUBRIC = f"""You are an evaluator of answers produced by a retrieval-augmented assistant.
Judge the ANSWER against the CONTEXT and the QUESTION. Personal data was replaced by [REDACTED:...] tags.
- groundedness: a number from 0 to 1, the share of the answer's factual claims that the CONTEXT supports
  (1 = every claim supported; a wrong number or name makes its claim unsupported; a refusal is 1).
- relevance: a number from 0 to 1, how directly the answer addresses the QUESTION (0 = off topic).
- verdict: one of {", ".join(VERDICTS)} ("hallucinated" when groundedness < 0.75 and not a refusal).
- reason: one short sentence.
Reply with only a JSON object with exactly these keys: groundedness, relevance, verdict, reason.
(rubric {JUDGE_PROMPT_VERSION})"""
PROMPT_HASH = hashlib.sha256(RUBRIC.encode()).hexdigest()


@dataclass(frozen=True)
class JudgeConfig:
    """Where and how to ask. `max_retries` counts retries after the first attempt; `cache_dir=None`
    disables the cache."""

    base_url: str
    model: str
    api_key_env: str = API_KEY_ENV
    timeout_s: float = 20.0
    max_retries: int = 3
    backoff_s: float = 0.5
    max_concurrency: int = 4
    cache_dir: Path | str | None = None

    @classmethod
    def from_env(cls, cache_dir: Path | str | None = None, **overrides: Any) -> JudgeConfig:
        """Endpoint and model from OPS_LLM_JUDGE_BASE_URL / OPS_LLM_JUDGE_MODEL (overrides win)."""
        base_url = overrides.pop("base_url", None) or os.environ.get(BASE_URL_ENV, "")
        model = overrides.pop("model", None) or os.environ.get(MODEL_ENV, "")
        if not base_url or not model:
            raise ValueError(f"LLM judge needs an endpoint: set {BASE_URL_ENV} (e.g. http://127.0.0.1:8000/v1) "
                             f"and {MODEL_ENV}")
        return cls(base_url=base_url, model=model, cache_dir=cache_dir, **overrides)


class JudgeCallError(Exception):
    """A call that failed for good (after retries, or a 4xx that retrying cannot fix)."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _contexts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [c for c in value if isinstance(c, str) and c.strip()]
    return []


def build_messages(question: str | None, contexts: list[str], answer: str) -> list[dict[str, str]]:
    """The chat messages for one trace (all text already redacted)."""
    context = "\n---\n".join(contexts)
    if len(context) > _MAX_CONTEXT_CHARS:
        context = context[:_MAX_CONTEXT_CHARS] + "\n[context truncated]"
    user = f"QUESTION:\n{question or '(none)'}\n\nCONTEXT:\n{context or '(none)'}\n\nANSWER:\n{answer}"
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]


def cache_key(trace_id: Any, messages: list[dict[str, str]], model: str) -> str:
    """sha256 over trace id, rubric hash, model and the hash of what is judged."""
    content = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
    trace = "" if trace_id is None or (isinstance(trace_id, float) and math.isnan(trace_id)) else str(trace_id)
    return hashlib.sha256(f"{trace}\x1f{PROMPT_HASH}\x1f{model}\x1f{content}".encode()).hexdigest()


def _score(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{name} is not a number: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} outside [0, 1]: {value!r}")
    return number


def _json_objects(text: str) -> list[Any]:
    """JSON objects in a reply: the whole text, fenced blocks, then any `{...}` found in the prose."""
    stripped = text.strip()
    candidates = [stripped, *re.findall(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL | re.IGNORECASE)]
    found = []
    for chunk in candidates:
        try:
            found.append(json.loads(chunk))
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            found.append(decoder.raw_decode(text, match.start())[0])
        except ValueError:
            pass
    return [obj for obj in found if isinstance(obj, dict)]


def parse_judgement(content: Any) -> dict[str, Any]:
    """groundedness, relevance, verdict, reason from a reply's text; ValueError (TypeError for a
    non-numeric score) when it has no usable judgement."""
    if not isinstance(content, str) or not content.strip():
        raise ValueError("empty reply")
    objects = _json_objects(content)
    usable = [o for o in objects if {"groundedness", "relevance", "verdict"} <= set(o)]
    if not usable:
        raise ValueError(f"no JSON object with groundedness, relevance and verdict in: {content[:120]!r}")
    obj = usable[0]
    verdict = obj["verdict"].strip().lower() if isinstance(obj["verdict"], str) else None
    if verdict not in VERDICTS:
        raise ValueError(f"verdict not one of {VERDICTS}: {obj['verdict']!r}")
    reason = obj.get("reason")
    return {"groundedness": _score(obj["groundedness"], "groundedness"),
            "relevance": _score(obj["relevance"], "relevance"),
            "verdict": verdict, "reason": reason[:500] if isinstance(reason, str) else None}


def _reply_text(body: bytes) -> Any:
    """The assistant message of an OpenAI chat completion (string or list of text parts)."""
    message = json.loads(body)["choices"][0]["message"]
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


def retry_delay(attempt: int, retry_after: str | None, backoff_s: float) -> float:
    """Seconds before retry number `attempt` (0-based): the server's Retry-After (seconds or an HTTP
    date) when given, capped at MAX_RETRY_AFTER_S; else exponential backoff."""
    wait = math.nan
    try:
        wait = float(retry_after or "nan")
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            wait = parsed.timestamp() - time.time() if parsed.tzinfo else math.nan
        except (ValueError, TypeError):
            pass  # unparseable: fall back to our own back-off
    if math.isfinite(wait):
        return min(max(wait, 0.0), MAX_RETRY_AFTER_S)
    return backoff_s * 2**attempt


def _sleep(seconds: float) -> None:  # a seam for tests: they record waits instead of asserting time
    time.sleep(seconds)


def secrets_of(config: JudgeConfig) -> list[str]:
    """What must never leave `_post` in text: the API key, credentials in the base URL, and every
    other secret this process is configured with."""
    return [os.environ.get(config.api_key_env) or "", *url_secrets(config.base_url), *configured_secrets()]


class _Retryable(Exception):
    """A failed attempt worth another one (timeout, connection error, 429, 5xx)."""

    def __init__(self, failure: str, retry_after: str | None = None):
        super().__init__(failure)
        self.failure, self.retry_after = failure, retry_after


def _attempt(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], secrets: list[str],
             timeout_s: float) -> Any:
    """One POST; the reply text with secrets scrubbed, else `_Retryable` or `JudgeCallError`."""
    import httpx

    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            if response.status_code < 400:
                payload = response.read()
            else:
                # At most MAX_ERROR_BODY_BYTES of an error body, read whole before scrubbing and cutting.
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= MAX_ERROR_BODY_BYTES:
                        break
                detail = scrub(b"".join(chunks)[:MAX_ERROR_BODY_BYTES].decode("utf-8", "replace"), secrets)
                failure = f"http {response.status_code}: {detail.strip()[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise JudgeCallError(failure)
                raise _Retryable(failure, response.headers.get("Retry-After"))
    except httpx.TimeoutException:
        raise _Retryable(f"timeout after {timeout_s}s") from None
    except httpx.TransportError as err:  # refused, reset or dropped mid-response
        raise _Retryable(f"connection error: {scrub(str(err), secrets) or type(err).__name__}") from None
    try:
        content = _reply_text(payload)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        text = scrub(payload.decode("utf-8", "replace"), secrets)
        raise JudgeCallError(f"invalid response: not a chat completion: {text[:120]!r}") from None
    return scrub(content, secrets) if isinstance(content, str) else content


def _post(config: JudgeConfig, messages: list[dict[str, str]], client: httpx.Client) -> Any:
    """One chat completion with retries (tenacity) on timeouts, connection errors, 429 and 5xx. The
    reply text and every error come back with the secrets already scrubbed."""
    import tenacity

    key = os.environ.get(config.api_key_env) or None
    secrets = secrets_of(config)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    body = json.dumps({"model": config.model, "messages": messages, "temperature": 0}).encode()
    url = config.base_url.rstrip("/") + "/chat/completions"

    def wait(state: tenacity.RetryCallState) -> float:
        return retry_delay(state.attempt_number - 1, state.outcome.exception().retry_after, config.backoff_s)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        log.warning("LLM judge call failed (%s); retry %d/%d in %.2fs", state.outcome.exception().failure,
                    state.attempt_number, config.max_retries, state.upcoming_sleep)

    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(config.max_retries + 1),
                                 retry=tenacity.retry_if_exception_type(_Retryable), wait=wait,
                                 sleep=lambda seconds: _sleep(seconds), before_sleep=before_sleep, reraise=True)
    try:
        return retrying(_attempt, client, url, body, headers, secrets, config.timeout_s)
    except _Retryable as err:
        raise JudgeCallError(f"{err.failure} (after {config.max_retries + 1} attempts)") from None


def _read_cache(path: Path | None, secrets: list[str]) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        cached = json.loads(path.read_text())
        if cached["verdict"] not in VERDICTS:
            return None
        # Scrubbed on the way out too: an entry written before scrubbing existed may hold a key.
        return {"groundedness": _score(cached["groundedness"], "groundedness"),
                "relevance": _score(cached["relevance"], "relevance"), "verdict": cached["verdict"],
                "reason": scrub_value(cached["reason"], secrets)}
    except (ValueError, KeyError, TypeError, OSError):
        return None  # a damaged entry is a miss; the fresh answer overwrites it


def _write_cache(path: Path, key: str, config: JudgeConfig, result: dict[str, Any]) -> None:
    """Atomic (temp file + rename) and deterministic: sorted keys, no timestamps, no secrets."""
    record = {"key": key, "model": config.model, "prompt_version": JUDGE_PROMPT_VERSION, **result}
    atomic_write_text(path, json.dumps(record, sort_keys=True, indent=1) + "\n")


def _judge_one(config: JudgeConfig, key: str, messages: list[dict[str, str]], client: httpx.Client) -> dict[str, Any]:
    path = Path(config.cache_dir) / f"{key}.json" if config.cache_dir else None
    secrets = secrets_of(config)
    cached = _read_cache(path, secrets)
    if cached is not None:
        return {**cached, "error": None, "cached": True}
    try:
        result = parse_judgement(_post(config, messages, client))
    except JudgeCallError as err:
        return {"error": scrub(str(err), secrets), "cached": False}
    except (ValueError, TypeError) as err:
        return {"error": scrub(f"invalid response: {err}", secrets), "cached": False}
    result = scrub_value(result, secrets)  # the reason is the server's text
    if path is not None:
        _write_cache(path, key, config, result)
    return {**result, "error": None, "cached": False}


def judge_traces(rows: pd.DataFrame, config: JudgeConfig) -> pd.DataFrame:
    """One row per input row, in input order (see COLUMNS). Needs `answer`; uses `trace_id`,
    `question` and `contexts` (or `context`) when present. Rows without an answer are not sent
    (`judge_error` = "skipped: no answer"); identical rows are asked once."""
    rows = rows.reset_index(drop=True)
    column = lambda name: rows[name] if name in rows else pd.Series([None] * len(rows))
    contexts = column("contexts") if "contexts" in rows else column("context")
    work: dict[str, list[dict[str, str]]] = {}
    keys: list[str | None] = []
    redacted: dict[str, str | None] = {}  # retrieved passages repeat across traces: redact each once
    red = lambda text: redacted[text] if text in redacted else redacted.setdefault(text, redact(text))
    for trace_id, question, ctx, answer in zip(column("trace_id"), column("question"), contexts, column("answer")):
        if _text(answer) is None:
            keys.append(None)
            continue
        messages = build_messages(red(_text(question)), [red(c) for c in _contexts(ctx)], red(answer))
        key = cache_key(trace_id, messages, config.model)
        work.setdefault(key, messages)
        keys.append(key)
    import httpx

    # One client (a thread-safe connection pool) for all workers of this call.
    with httpx.Client(timeout=config.timeout_s) as client, \
            ThreadPoolExecutor(max_workers=max(1, config.max_concurrency)) as pool:
        done = dict(zip(work, pool.map(lambda k: _judge_one(config, k, work[k], client), work), strict=True))
    skipped = {"error": "skipped: no answer", "cached": False}
    results = [done[k] if k is not None else skipped for k in keys]
    return pd.DataFrame({
        "trace_id": column("trace_id").to_numpy(dtype=object),
        "judge_groundedness": pd.Series([r.get("groundedness", np.nan) for r in results], dtype="float64"),
        "judge_relevance": pd.Series([r.get("relevance", np.nan) for r in results], dtype="float64"),
        "judge_verdict": pd.Series([r.get("verdict") for r in results], dtype=object),
        "judge_reason": pd.Series([r.get("reason") for r in results], dtype=object),
        "judge_error": pd.Series([r["error"] for r in results], dtype=object),
        "judge_cached": pd.Series([r["cached"] for r in results], dtype=bool),
    }, columns=COLUMNS)


def merge_judged(scores: pd.DataFrame, judged: pd.DataFrame) -> pd.DataFrame:
    """The judge columns appended to `score_traces` output; both are in the traces' row order."""
    ids = lambda frame: frame["trace_id"].astype(object).where(frame["trace_id"].notna(), "").astype(str).tolist()
    if len(scores) != len(judged) or ids(scores) != ids(judged):
        raise ValueError("judge results are not aligned with the scored traces")
    return pd.concat([scores.reset_index(drop=True), judged.drop(columns="trace_id").reset_index(drop=True)], axis=1)


def judge_summary(judged: pd.DataFrame) -> dict[str, Any]:
    """Asset metadata: rows judged, served from cache, skipped (no answer), failed (and by kind),
    and the mean judge scores (None when nothing was judged)."""
    errors = judged["judge_error"].dropna()
    failed = errors[~errors.str.startswith("skipped")]
    ok = judged[judged["judge_error"].isna()]
    kinds = failed.str.extract(r"^(http \d+|timeout|connection error|invalid response)", expand=False).fillna("other")
    mean = lambda col: float(ok[col].mean()) if len(ok) else None
    return {"judged": len(ok), "judge_cached": int(judged["judge_cached"].sum()),
            "judge_skipped": len(errors) - len(failed), "judge_errors": len(failed),
            "judge_errors_by_kind": {str(k): int(n) for k, n in kinds.value_counts().sort_index().items()},
            "judge_groundedness_mean": mean("judge_groundedness"), "judge_relevance_mean": mean("judge_relevance")}
