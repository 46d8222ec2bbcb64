"""Answer relevance to the question and refusal detection.

Lexical relevance (always): word coverage and cosine of stemmed content words (see `relevance`).
With the `embeddings` extra, `relevance_many` averages it with the question<->answer embedding
cosine calibrated linearly to [0, 1] (REL_LO -> 0, REL_HI -> 1: MiniLM puts an on-topic answer
around 0.5-0.8 from its question and an off-topic one below ~0.15), rounded to 4 decimals.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.text import content_tokens

REL_LO, REL_HI = 0.1, 0.7

_REFUSAL = re.compile(
    r"""^\W*(?:
        (?:i'?m|i\s+am)\s+(?:so\s+|very\s+|really\s+)?sorry\b[^.!?]{0,40}\b(?:can(?:'|no)?t|cannot|unable|not\s+able|won'?t)
      | (?:unfortunately|regrettably|sorry)[,]?\s+(?:i|we)(?:\s+am|'m|\s+are|'re)?\s+
        (?:can(?:'|no)?t|cannot|unable|not\s+able|won'?t|don'?t\s+have)
      | i\s+(?:can(?:'|no)?t|cannot|won'?t|am\s+(?:not\s+able|unable)|'m\s+(?:not\s+able|unable))\s+
        (?:help|assist|answer|provide|share|comply|do\s+that|discuss|respond|disclose|fulfil)
      | as\s+an?\s+(?:ai|artificial\s+intelligence|language\s+model|llm|assistant)\b
      | i\s+(?:must|have\s+to)\s+(?:decline|refuse)
      | (?:i'?m|i\s+am)\s+(?:not\s+(?:able|allowed|permitted)|unable)\s+to
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def is_refusal(answer: str | None) -> bool:
    """True when the answer opens by declining ("I'm sorry, I can't ...", "As an AI ...")."""
    return bool(answer) and _REFUSAL.search(answer.strip()[:300]) is not None


def relevance(question: str | None, answer: str | None) -> float:
    """Mean of (share of the question's content words the answer uses) and the cosine of their
    stemmed content-word counts, in [0, 1]. Pairwise only, so a row's score never depends on the
    batch it was scored in (a corpus TF-IDF would)."""
    q, a = Counter(content_tokens(question or "")), Counter(content_tokens(answer or ""))
    if not q or not a:
        return 0.0
    coverage = sum(1 for t in q if t in a) / len(q)
    dot = sum(q[t] * a[t] for t in q.keys() & a.keys())
    cosine = dot / (math.sqrt(sum(v * v for v in q.values())) * math.sqrt(sum(v * v for v in a.values())))
    return 0.5 * (coverage + cosine)


def relevance_many(questions: Sequence[str | None], answers: Sequence[str | None],
                   method: str | None = None) -> np.ndarray:
    """Relevance of each (question, answer) pair in [0, 1]; 0 when either is missing. `method`
    'embeddings' or 'lexical', default embeddings.method()."""
    if len(questions) != len(answers):
        raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
    lexical = np.asarray([relevance(q, a) for q, a in zip(questions, answers)], dtype=float)
    method = method or embeddings.method()
    if method == "lexical":
        return lexical
    if method != "embeddings":
        raise ValueError(f"unknown relevance method {method!r}: 'embeddings' or 'lexical'")
    cos = embeddings.pair_cosine(questions, answers)
    aligned = np.clip((cos - REL_LO) / (REL_HI - REL_LO), 0.0, 1.0)
    both = np.array([bool(q and q.strip() and a and a.strip()) for q, a in zip(questions, answers)], dtype=bool)
    return np.where(both, np.round(0.5 * (lexical + aligned), 4), 0.0)
