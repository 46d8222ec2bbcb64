"""Per-trace text descriptors of LLM traffic: what prompt and answer drift is measured on.

Descriptors (one row per trace; answer descriptors are missing when the trace has no answer):
lengths in words and sentences, language (language.py), question type (first word), refusal,
PII in the prompt and in the answer, and the out-of-vocabulary share: the part of a text's words
never seen in the reference window. OOV is computed the same way on both sides of a comparison:
a reference day against the vocabulary of the *other* reference days, the current day against the
most recent (days - 1) reference days, so both see the same number of days of vocabulary and a
quiet day does not look novel just because it was compared with more data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.language import language
from ops_pipelines.lib.llmops.pii import find_pii
from ops_pipelines.lib.llmops.relevance import is_refusal
from ops_pipelines.lib.llmops.text import sentences

NUMERIC = ["question_words", "answer_words", "answer_sentences", "question_oov", "answer_oov"]
CATEGORICAL = ["question_language", "answer_language", "question_type", "refusal", "question_pii", "answer_pii"]
_WORD = re.compile(r"[^\W\d_]{2,}")  # letters only: ids and numbers ("ord-12345678") are no vocabulary
_COUNT = re.compile(r"\w+(?:['’]\w+)*")  # "can't" is one word
_FIRST = re.compile(r"[^\W\d_]+")
_WH = frozenset({"how", "what", "when", "where", "why", "who", "which", "whose", "whom"})
_AUX = frozenset("""can could do does did is are was were will would should shall may might have has had am
                 isn aren don doesn didn won wouldn shouldn cannot""".split())
_REQUEST = frozenset("please tell show give help explain list send let find check cancel change update".split())


def text_or_none(value: object) -> str | None:
    """A non-blank string, else None (missing answers arrive as None, NaN or '')."""
    return value if isinstance(value, str) and value.strip() else None


def question_type(text: str | None) -> str:
    """`how`, `what`, ... (the wh-word it opens with), `yes_no` (opens with an auxiliary verb),
    `request` (an imperative or please), `other_question` (ends with ?), `statement`, or `empty`."""
    if not text or not text.strip():
        return "empty"
    first = next(iter(_FIRST.findall(text.lower())), "")
    if first in _WH:
        return first
    if first in _AUX:
        return "yes_no"
    if first in _REQUEST or re.search(r"\bplease\b", text, re.IGNORECASE):
        return "request"
    return "other_question" if text.rstrip().endswith("?") else "statement"


def vocabulary_words(text: str | None) -> list[str]:
    """Lower-cased words of two or more letters (any script); digits and ids are left out."""
    return _WORD.findall(text.lower()) if text else []


def descriptors(questions: Sequence[object], answers: Sequence[object]) -> pd.DataFrame:
    """Every descriptor but the OOV shares (see `oov_shares`), one row per (question, answer)."""
    qs = [text_or_none(q) for q in questions]
    ans = [text_or_none(a) for a in answers]
    has = np.array([a is not None for a in ans], dtype=bool)

    def answer_bool(values: list[bool]) -> pd.Series:
        return pd.Series(pd.array(values, dtype="boolean")).where(has, pd.NA)

    return pd.DataFrame({
        "question_words": np.array([len(_COUNT.findall(q)) if q else 0 for q in qs], dtype=float),
        "answer_words": np.where(has, [len(_COUNT.findall(a)) if a else 0 for a in ans], np.nan),
        "answer_sentences": np.where(has, [len(sentences(a)) if a else 0 for a in ans], np.nan),
        "question_language": [language(q) for q in qs],
        "answer_language": [language(a) if a else None for a in ans],
        "question_type": [question_type(q) for q in qs],
        "refusal": answer_bool([is_refusal(a) for a in ans]),
        "question_pii": np.array([bool(find_pii(q)) for q in qs], dtype=bool),
        "answer_pii": answer_bool([bool(find_pii(a)) for a in ans]),
    })


def oov_shares(reference: Sequence[object], reference_days: Sequence[str], current: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """(OOV share of each reference text against the other reference days, OOV share of each current
    text against the latest len(days) - 1 reference days). NaN for texts without words, and
    everywhere when the reference holds fewer than two days (no vocabulary to hold out)."""
    days = sorted(set(reference_days))
    ref_words = [vocabulary_words(text_or_none(t)) for t in reference]
    cur_words = [vocabulary_words(text_or_none(t)) for t in current]
    if len(days) < 2:
        return np.full(len(ref_words), np.nan), np.full(len(cur_words), np.nan)
    per_day: dict[str, Counter] = {d: Counter() for d in days}
    for words, day in zip(ref_words, reference_days):
        per_day[day].update(set(words))
    total = sum(per_day.values(), Counter())
    recent = total - per_day[days[0]]  # Counter subtraction drops words only the oldest day had

    def share(words: list[str], seen) -> float:
        return sum(not seen(w) for w in words) / len(words) if words else np.nan

    ref = np.array([share(w, lambda x, d=d: total[x] - per_day[d][x] > 0) for w, d in zip(ref_words, reference_days)])
    cur = np.array([share(w, lambda x: recent[x] > 0) for w in cur_words])
    return ref.astype(float), cur.astype(float)
