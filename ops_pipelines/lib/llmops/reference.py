"""Reference-based scores (SQuAD-style normalisation): exact match, token F1, ROUGE-L F1, and
`semantic_similarity` (embedding cosine of answer and reference) when the `embeddings` extra is
installed; without it semantic similarity is NaN (unknown, not 0: no method was run).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ops_pipelines.lib.llmops import embeddings

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise(text: str) -> list[str]:
    """Lower case, punctuation and articles removed, whitespace tokens."""
    return _ARTICLES.sub(" ", (text or "").lower().translate(_PUNCT)).split()


def exact_match(prediction: str, reference: str) -> float:
    return float(normalise(prediction) == normalise(reference))


def token_f1(prediction: str, reference: str) -> float:
    p, r = normalise(prediction), normalise(reference)
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence by dynamic programming over one row (O(len(a) * len(b)))."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) on normalised tokens."""
    p, r = normalise(prediction), normalise(reference)
    if not p or not r:
        return float(p == r)
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def semantic_similarity_many(predictions: Sequence[str | None], references: Sequence[str | None],
                             method: str | None = None) -> np.ndarray:
    """Cosine in [-1, 1] of each prediction's and reference's embedding (rounded to 4 decimals);
    NaN where either is missing, and everywhere with method 'lexical' / without the extra."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if (method or embeddings.method()) != "embeddings":
        return np.full(len(predictions), np.nan)
    return np.round(embeddings.pair_cosine(predictions, references), 4)
