"""Answer relevance to the question (lexical) and refusal detection."""

from __future__ import annotations

import math
import re
from collections import Counter

from ops_pipelines.lib.llmops.text import content_tokens

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
