"""One row of offline evaluation scores per LLM trace (the body of the `llm_eval_scores` asset).

Thresholds:
- HALLUCINATION_THRESHOLD = 0.75: an answer is hallucinated when its groundedness (half the
  token-weighted share of supported claims, half their mean support; groundedness.py step 4) is
  below it and it is not a refusal. A claim with a wrong number or name scores 0, so a two-claim
  answer with one wrong fact scores about 0.5, and an answer whose claims are all supported
  scores at least 0.75. Chosen on the sample world (sample-world test).
- TOXIC_THRESHOLD = 0.5 (toxicity.py): the classifier's own decision point.
- `rude` = rudeness >= the threshold in assets/llmops/rudeness_model.json (rudeness.py): rude
  wording without insult (curt, condescending, blaming, sarcastic, dismissive), apart from toxicity.
Rows without an answer (status error/timeout) get null quality scores. An `ok` trace whose answer
is empty is scored as the empty answer it is (relevance 0, not toxic, not rude, no PII, not a refusal) with
no groundedness verdict: it asserts nothing. A row without context (no list, an empty list, only
blank passages) gets an empty groundedness, `groundedness_method` = "no_context" and a null
`hallucinated`: nothing to be grounded in is no evidence of being grounded.
Groundedness, relevance and semantic similarity are scored for the whole frame at once (one
embedding call with the `embeddings` extra); `groundedness_method` says which method ran
("embeddings" or "lexical", see groundedness.py); `semantic_similarity` is NaN without the extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.cost import Prices, cost_usd, fill_tokens
from ops_pipelines.lib.llmops.format import Templates, format_valid
from ops_pipelines.lib.llmops.groundedness import groundedness_many
from ops_pipelines.lib.llmops.pii import find_pii, redact
from ops_pipelines.lib.llmops.reference import (
    exact_match,
    rouge_l,
    semantic_similarity_many,
    token_f1,
)
from ops_pipelines.lib.llmops.relevance import is_refusal, relevance_many
from ops_pipelines.lib.llmops.rudeness import rude_threshold, rudeness_probs
from ops_pipelines.lib.llmops.toxicity import TOXIC_THRESHOLD, toxicity_probs

HALLUCINATION_THRESHOLD = 0.75
ID_COLUMNS = ["trace_id", "timestamp", "app", "model", "prompt_template_id", "prompt_version"]
COLUMNS = [*ID_COLUMNS, "groundedness", "groundedness_method", "hallucinated", "relevance", "refusal", "toxicity",
           "toxic", "rudeness", "rude", "pii_found", "pii_kinds", "answer_redacted", "format_valid", "exact_match",
           "token_f1", "rouge_l", "semantic_similarity", "input_tokens", "output_tokens", "tokens_estimated", "cost_usd", "latency_ms",
           "status"]


def _text(value: Any) -> str | None:
    """A non-blank string, else None (missing answers arrive as None, NaN or '')."""
    return value if isinstance(value, str) and value.strip() else None


def _contexts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(c) for c in value if c is not None and str(c).strip()]
    return []


def _row_scores(answer: str | None, reference: str | None, schema: dict | None) -> dict[str, Any]:
    found = find_pii(answer)
    row: dict[str, Any] = {
        "pii_found": bool(found),
        "pii_kinds": sorted({kind for kind, _ in found}),
        "answer_redacted": redact(answer, found),
        "format_valid": format_valid(answer, schema),
    }
    if answer is None:
        return {**row, "refusal": pd.NA, "exact_match": np.nan, "token_f1": np.nan, "rouge_l": np.nan}
    ref = {"exact_match": np.nan, "token_f1": np.nan, "rouge_l": np.nan}
    if reference:
        ref = {"exact_match": exact_match(answer, reference), "token_f1": token_f1(answer, reference),
               "rouge_l": rouge_l(answer, reference)}
    return {**row, **ref, "refusal": is_refusal(answer)}


def _batch_scores(questions: list[str | None], contexts: list[list[str]], answers: list[str | None],
                  redacted: list[str | None], references: list[str | None]) -> dict[str, Any]:
    """The model-backed scores of a whole frame in one pass each; NaN where there is no answer."""
    method = embeddings.method()
    rows = [i for i, a in enumerate(answers) if a is not None]
    grounded = [i for i in rows if contexts[i]]

    def spread(values: np.ndarray, at: list[int] = rows) -> np.ndarray:
        out = np.full(len(answers), np.nan)
        out[at] = values
        return out

    def pick(xs: list, at: list[int] = rows) -> list:
        return [xs[i] for i in at]

    return {"groundedness": spread(groundedness_many(pick(redacted, grounded), pick(contexts, grounded), method), grounded),
            "groundedness_method": [None if a is None else method if c else "no_context" for a, c in zip(answers, contexts)],
            "relevance": spread(relevance_many(pick(questions), pick(answers), method)),
            "semantic_similarity": spread(semantic_similarity_many(pick(answers), pick(references), method))}


def score_traces(traces: pd.DataFrame, prices: Prices, templates: Templates) -> pd.DataFrame:
    """Scores for every trace of the `llm_traces` frame, in its row order (see COLUMNS)."""
    if traces.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "timestamp" else object) for c in COLUMNS})
    traces = traces.reset_index(drop=True)
    for col in [*ID_COLUMNS, "question", "contexts", "answer", "reference_answer", "status", "latency_ms",
                "input_tokens", "output_tokens"]:
        if col not in traces:
            traces[col] = None
    answers = traces["answer"].map(_text)
    empty = answers.isna() & traces["status"].fillna("ok").eq("ok")  # answered, with nothing
    questions, contexts = traces["question"].map(_text).tolist(), traces["contexts"].map(_contexts).tolist()
    references = traces["reference_answer"].map(_text).tolist()
    per_row = pd.DataFrame([
        _row_scores("" if e else a, r, templates.get(t) if isinstance(t, str) else None)
        for a, e, r, t in zip(answers, empty, references, traces["prompt_template_id"])
    ], index=traces.index)
    batch = _batch_scores(questions, contexts, answers.tolist(), per_row["answer_redacted"].tolist(), references)
    batch["relevance"] = np.where(empty, 0.0, batch["relevance"])  # an empty answer answers nothing
    out = traces[ID_COLUMNS].copy()
    for col in per_row:
        out[col] = per_row[col]
    for col, values in batch.items():
        out[col] = values
    has_answer = answers.notna() | empty
    refusal = out["refusal"].astype("boolean")
    out["refusal"] = refusal
    # No groundedness (no answer, an empty one, no context): no verdict either way.
    out["hallucinated"] = ((out["groundedness"] < HALLUCINATION_THRESHOLD) & ~refusal.fillna(False)).astype(
        "boolean").where(out["groundedness"].notna(), pd.NA)
    out["toxicity"] = np.where(empty, 0.0, toxicity_probs(answers.tolist()))
    out["toxic"] = (out["toxicity"] >= TOXIC_THRESHOLD).astype("boolean").where(has_answer, pd.NA)
    out["rudeness"] = np.where(empty, 0.0, rudeness_probs(answers.tolist()))
    out["rude"] = (out["rudeness"] >= rude_threshold()).astype("boolean").where(has_answer, pd.NA)
    tokens = fill_tokens(traces.assign(answer=answers))
    for col in tokens:
        out[col] = tokens[col]
    out["cost_usd"] = cost_usd(traces["model"], traces["timestamp"], out["input_tokens"], out["output_tokens"], prices)
    out["latency_ms"] = pd.to_numeric(traces["latency_ms"], errors="coerce")
    out["status"] = traces["status"]
    return out[COLUMNS]
