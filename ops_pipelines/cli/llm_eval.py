"""`ops-pipelines llm-eval INPUT.jsonl --output OUT.jsonl`: score a JSONL file with the asset's code.

Messy exports are the normal case: every line that cannot be scored (not JSON, not an object, a
field of the wrong type, no `answer` field) is reported with its line number and reason, on
stderr and in `<OUT stem>.rejects.jsonl` beside the output, and every other row is scored. An
empty answer is scored (relevance 0); a row without context gets no groundedness verdict
(`groundedness_method` = "no_context", see scores.py). A file that cannot be read at all, or an
output that would overwrite the input, is a `UsageError`: one line, no traceback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ops_pipelines.lib.files import atomic_write_text
from ops_pipelines.lib.llmops.cost import load_prices
from ops_pipelines.lib.llmops.format import load_templates
from ops_pipelines.lib.llmops.scores import COLUMNS, ID_COLUMNS, score_traces
from ops_pipelines.settings import ASSETS_DIR, data_home

ASSETS = ASSETS_DIR / "llmops"
_PASSED_THROUGH = {*ID_COLUMNS, "latency_ms", "status"}
_TEXT_FIELDS = ("question", "answer", "reference", "reference_answer")
_CONTEXT_FIELDS = ("context", "contexts")
RAW_CHARS = 1000  # of a rejected line kept in the rejects file


class UsageError(ValueError):
    """The command cannot run at all (unreadable input, bad output path): one line for the user."""


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    raw: str

    def to_json(self) -> str:
        return json.dumps({"line": self.line, "reason": self.reason, "raw": self.raw[:RAW_CHARS]}, ensure_ascii=False)


@dataclass
class EvalResult:
    scored: int
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None


def rejects_path_for(output: Path) -> Path:
    """`out.jsonl` -> `out.rejects.jsonl` (beside the output)."""
    return output.with_name(f"{output.stem}.rejects{output.suffix or '.jsonl'}")


def _json_value(value: Any) -> Any:
    if value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _problem(row: Any) -> str | None:
    """Why a parsed line cannot be scored, or None."""
    if not isinstance(row, dict):
        return f"not a JSON object (a JSON {type(row).__name__})"
    if "answer" not in row:
        return "no `answer` field (null is allowed: an unanswered trace)"
    for name in _TEXT_FIELDS:
        if row.get(name) is not None and not isinstance(row[name], str):
            return f"`{name}` must be a string or null, found {type(row[name]).__name__}"
    for name in _CONTEXT_FIELDS:
        value = row.get(name)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, list):
            return f"`{name}` must be a string or a list of strings, found {type(value).__name__}"
        odd = next((c for c in value if not isinstance(c, str)), None)
        if odd is not None or None in value:
            return f"`{name}` must be a list of strings, found an item of type {type(odd).__name__}"
    return None


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], list[Reject]]:
    """(line number, row) of every usable line and a Reject for every other non-blank line."""
    if not path.exists():
        raise UsageError(f"input file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"input {path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows, rejects = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            rejects.append(Reject(number, f"not UTF-8 text (byte {exc.start + 1})", raw.decode("utf-8", "replace")))
            continue
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(number, f"invalid JSON ({exc.msg}, column {exc.colno})", text))
            continue
        problem = _problem(row)
        if problem:
            rejects.append(Reject(number, problem, text))
        else:
            rows.append((number, row))
    return rows, rejects


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("question", "answer", "reference", "reference_answer", "context", "contexts", "model",
                "timestamp", "input_tokens", "output_tokens", "status", "latency_ms"):
        if col not in frame:
            frame[col] = None
    frame["contexts"] = frame["contexts"].where(frame["contexts"].notna(), frame["context"])
    frame["reference_answer"] = frame["reference_answer"].where(frame["reference_answer"].notna(), frame["reference"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
    frame["status"] = frame["status"].fillna("ok")
    for col in ("input_tokens", "output_tokens", "latency_ms"):  # "n/a" or a list: unknown, not a crash
        frame[col] = pd.to_numeric(frame[col].map(lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None),
                                   errors="coerce")
    return frame


def llm_eval(input_path: Path | str, output_path: Path | str, judge: bool = False) -> EvalResult:
    """Read rows with `question`, `context` (string or list), `answer`, optional `reference` (and any
    trace fields), write each usable row with the scores added; the raw answer is replaced by its
    redacted form so no PII is written. Unusable lines go to the rejects file (see the module doc).
    `judge`: also ask the LLM judge configured by the OPS_LLM_JUDGE_* environment variables."""
    source, target = Path(input_path), Path(output_path)
    if target.exists() and target.resolve() == source.resolve():
        raise UsageError(f"--output {target} is the input file: choose another path")
    if target.is_dir():
        raise UsageError(f"--output {target} is a folder: give a file path")
    numbered, rejects = read_rows(source)
    rows = [row for _, row in numbered]
    lines = []
    if rows:
        frame = _frame(rows)
        scores = score_traces(frame, load_prices(ASSETS / "prices.json"), load_templates(ASSETS / "prompt_templates.json"))
        added = [c for c in COLUMNS if c not in _PASSED_THROUGH]
        if judge:
            from ops_pipelines.lib.llmops import judge as judging

            config = judging.JudgeConfig.from_env(cache_dir=data_home() / "judge_cache")
            scores = judging.merge_judged(scores, judging.judge_traces(frame, config))
            added += [c for c in judging.COLUMNS if c != "trace_id"]
        for row, (_, score) in zip(rows, scores[added].iterrows()):
            row.pop("answer", None)
            lines.append(json.dumps({**row, **{c: _json_value(score[c]) for c in added}}, default=str) + "\n")
    try:
        atomic_write_text(target, "".join(lines))
        path = rejects_path_for(target)
        if rejects:
            atomic_write_text(path, "".join(r.to_json() + "\n" for r in rejects))
        else:
            path.unlink(missing_ok=True)  # a stale file from an earlier run would blame this input
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None
    return EvalResult(len(rows), rejects, path if rejects else None)
