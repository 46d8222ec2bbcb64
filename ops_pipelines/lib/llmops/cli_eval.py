"""`ops-pipelines llm-eval INPUT.jsonl --output OUT.jsonl`: score a JSONL file with the asset's code."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ops_pipelines.lib.llmops.cost import load_prices
from ops_pipelines.lib.llmops.format import load_templates
from ops_pipelines.lib.llmops.scores import COLUMNS, ID_COLUMNS, score_traces
from ops_pipelines.settings import ASSETS_DIR, data_home

ASSETS = ASSETS_DIR / "llmops"
_PASSED_THROUGH = {*ID_COLUMNS, "latency_ms", "status"}


def _json_value(value: Any) -> Any:
    if value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def llm_eval(input_path: Path | str, output_path: Path | str, judge: bool = False) -> int:
    """Read rows with `question`, `context` (string or list), `answer`, optional `reference` (and any
    trace fields), write each row with the scores added; the raw answer is replaced by its redacted
    form so no PII is written. `judge`: also ask the LLM judge configured by the OPS_LLM_JUDGE_*
    environment variables (judge.py). Returns the number of rows written."""
    rows = [json.loads(line) for line in Path(input_path).read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    for col in ("question", "answer", "reference", "reference_answer", "context", "contexts", "model",
                "timestamp", "input_tokens", "output_tokens", "status", "latency_ms"):
        if col not in frame:
            frame[col] = None
    frame["contexts"] = frame["contexts"].where(frame["contexts"].notna(), frame["context"])
    frame["reference_answer"] = frame["reference_answer"].where(frame["reference_answer"].notna(), frame["reference"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
    frame["status"] = frame["status"].fillna("ok")
    scores = score_traces(frame, load_prices(ASSETS / "prices.json"), load_templates(ASSETS / "prompt_templates.json"))
    added = [c for c in COLUMNS if c not in _PASSED_THROUGH]
    if judge:
        from ops_pipelines.lib.llmops import judge as judging

        config = judging.JudgeConfig.from_env(cache_dir=data_home() / "judge_cache")
        scores = judging.merge_judged(scores, judging.judge_traces(frame, config))
        added += [c for c in judging.COLUMNS if c != "trace_id"]
    with Path(output_path).open("w") as out:
        for row, (_, score) in zip(rows, scores[added].iterrows()):
            row.pop("answer", None)
            record = {**row, **{c: _json_value(score[c]) for c in added}}
            out.write(json.dumps(record, default=str) + "\n")
    return len(rows)
