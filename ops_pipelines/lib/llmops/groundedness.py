"""Claim-level groundedness of an answer in its retrieved contexts, in [0, 1]: lexical, or with embeddings.

Lexical method (no model, no network; the fallback without the `embeddings` extra):
1. The answer is split into sentences and clauses (claims). Questions and purely conversational
   clauses ("Happy to help.", "Let me know if ...") carry no factual claim and are skipped.
2. Each claim's content tokens (stopwords removed, numbers normalised, light stemming) are matched
   to the context sentences: a greedy cover picks up to 3 sentences, each adding the most claim
   words not yet covered (numbers excluded, so a wrong number cannot pick its own evidence).
   support = mean(coverage by the best single sentence, coverage by the cover): the first term
   rewards claims stated in one place, the second tolerates claims that merge two passages.
3. Consistency gates set support to 0: a number (digits, amounts, dates, percentages, number words)
   absent from the evidence sentences and their neighbours, or a proper name (capitalised word
   inside a sentence) absent from all contexts. Clauses holding redacted PII are skipped.
4. Answer groundedness = mean of two token-weighted averages over the claims (weight = number of
   content words): the share of supported claims (support >= CLAIM_SUPPORT = 0.5: lexical
   matching misses paraphrases, so half the words is already good evidence) and the mean support.
   The share is the decision: one invented claim among two pulls the score under the 0.75
   threshold, while one non-factual aside in a long answer does not zero it. The mean makes the
   score continuous, so answers with the same share still rank by how well their claims are
   supported (a share of 2-3 claims gives a ranking, e.g. FRANK's ROC-AUC, nothing to rank).
   Either alone was worse: the share ranks poorly, the mean alone puts the sample world's
   hallucination rate at 20% (truth 10%). An answer with no claim (a refusal, a greeting)
   scores 1.0: it asserts nothing.

With the `embeddings` extra (embeddings.available()), `groundedness_many` / `groundedness` use the
EMBEDDING method instead; the claims, weights, gates and the aggregation of step 4 stay the same:
5. Alignment: each claim's embedding is compared with every context sentence's embedding; its
   best cosine is calibrated linearly to [0, 1] (EMB_LO -> 0, EMB_HI -> 1: MiniLM cosines of
   unrelated sentences sit below ~0.4, paraphrases above ~0.85; read off the sample world).
   A failed number gate is re-checked against the best-aligned sentence's window as well.
6. Claim support = max(lexical support, calibrated alignment), 0 when a gate fired: the
   embedding term credits paraphrases that share few words with the context, the lexical term
   keeps claims stated in the context's own words supported whatever the embedding says.
Scores are rounded to 4 decimals (vectors carry ~1e-7 batch noise). The real-data figures of
the variants tried are in docs/llmops.md.
All claims and context sentences of a batch are encoded in one call (see embeddings.encode).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.relevance import is_refusal
from ops_pipelines.lib.llmops.text import (
    clauses,
    content_tokens,
    entities,
    numbers,
    sentences,
    stem,
    words,
)

CLAIM_SUPPORT = 0.5
EMB_LO, EMB_HI = 0.4, 0.85  # cosine -> support calibration of the embedding method (step 5)
REDACTED = "[REDACTED:"  # clauses carrying PII are judged by the PII scorer, not here
PHATIC = frozenset(stem(w) for w in words("""
thank thanks happy glad help helping hope question good great sure welcome anything else know reach
reaching out assist assistance pleasure hello hi hey dear certainly absolutely course sorry please feel
ask yes nice wonderful lovely regards cheers okay ok
"""))


@dataclass(frozen=True)
class ClaimSupport:
    """One answer claim, its support in [0, 1], the best context sentence and why it failed (if so)."""

    claim: str
    support: float
    weight: int
    evidence: str | None
    reason: str | None  # "number", "entity" or None


@dataclass(frozen=True)
class _Index:
    sents: tuple[str, ...]
    tokens: tuple[frozenset[str], ...]
    window_numbers: tuple[frozenset[str], ...]  # numbers of the sentence and its neighbours
    all_tokens: frozenset[str]
    all_words: frozenset[str]  # stemmed lower-case words, for proper-name checks


@lru_cache(maxsize=4096)
def _index(contexts: tuple[str, ...]) -> _Index:
    sents, toks, wnums = [], [], []
    for passage in contexts:
        ps = sentences(passage)
        nums = [numbers(s) for s in ps]
        for i, s in enumerate(ps):
            sents.append(s)
            toks.append(frozenset(content_tokens(s)))
            wnums.append(frozenset().union(*nums[max(0, i - 1): i + 2]))
    all_tokens = frozenset().union(*toks) if toks else frozenset()
    return _Index(tuple(sents), tuple(toks), tuple(wnums), all_tokens, all_tokens)


def _is_number(tok: str) -> bool:
    return tok[:1].isdigit()


def claims(answer: str) -> list[str]:
    """Factual claims of an answer: clauses of its non-question sentences with non-phatic content."""
    out = []
    for sent in sentences(answer):
        if sent.rstrip().endswith("?"):
            continue
        for clause in clauses(sent):
            toks = content_tokens(clause)
            if toks and not set(toks) <= PHATIC and REDACTED not in clause:
                out.append(clause)
    return out


def _cover(words: set[str], idx: _Index, max_sentences: int = 3) -> list[int]:
    """Greedy set cover: context sentences in order of how many still-uncovered claim words they add."""
    chosen: list[int] = []
    left = set(words)
    while left and len(chosen) < max_sentences:
        # Ties go to the sentence sharing more of the whole claim: it is the likelier evidence.
        gains = [(len(left & t), len(words & t)) for t in idx.tokens]
        best = max(range(len(gains)), key=gains.__getitem__)
        if gains[best][0] == 0:
            break
        chosen.append(best)
        left -= idx.tokens[best]
    return chosen


def _support(claim: str, idx: _Index) -> ClaimSupport:
    toks = set(content_tokens(claim)) - PHATIC
    weight = len(toks)
    if not idx.sents:
        return ClaimSupport(claim, 0.0, weight, None, "no context")
    # Numbers are left out of the matching so that a wrong number cannot select its own evidence.
    # A claim that is only a number ("1952", "$268 million") has nothing else to find its
    # evidence by: the sentences stating that number are its evidence.
    words = {t for t in toks if not _is_number(t)} or toks
    cover = _cover(words, idx)
    evidence = " ".join(idx.sents[i] for i in cover) or None
    nums = numbers(claim)
    if nums and not nums <= frozenset().union(*(idx.window_numbers[i] for i in cover)):
        return ClaimSupport(claim, 0.0, weight, evidence, "number")
    if entities(claim) - idx.all_words:
        return ClaimSupport(claim, 0.0, weight, evidence, "entity")
    best_single = max(len(toks & t) for t in idx.tokens) / len(toks)
    covered = len(toks & frozenset().union(*(idx.tokens[i] for i in cover))) / len(toks) if cover else 0.0
    return ClaimSupport(claim, 0.5 * (best_single + covered), weight, evidence, None)


def groundedness_detail(answer: str | None, contexts: list[str] | tuple[str, ...] | None) -> list[ClaimSupport]:
    """Support of every claim of the answer (empty when the answer makes no claim)."""
    if is_refusal(answer):  # a refusal asserts nothing: it is not a hallucination
        return []
    idx = _index(tuple(contexts or ()))
    return [_support(c, idx) for c in claims(answer or "")]


def answer_groundedness(detail: list[ClaimSupport], supports: Sequence[float]) -> float:
    """Step 4: mean of the token-weighted share of supported claims and the token-weighted mean
    support; 1.0 when the answer makes no factual claim."""
    total = sum(d.weight for d in detail)
    if total == 0:
        return 1.0
    share = sum((s >= CLAIM_SUPPORT) * d.weight for s, d in zip(supports, detail)) / total
    mean = sum(s * d.weight for s, d in zip(supports, detail)) / total
    return round(0.5 * (share + mean), 4)


def lexical_groundedness(answer: str | None, contexts: list[str] | tuple[str, ...] | None) -> float:
    """Groundedness in [0, 1] from the lexical claim supports (steps 1-4)."""
    detail = groundedness_detail(answer, contexts)
    return answer_groundedness(detail, [d.support for d in detail])


def embedding_support(detail: list[ClaimSupport], similarity: np.ndarray, best: np.ndarray, idx: _Index) -> list[float]:
    """Claim supports of the embedding method (steps 5-6) from the lexical detail, each claim's
    best cosine to a context sentence and that sentence's position in `idx`.

    A number gate is re-checked against the best-aligned sentence too: the lexical cover picks
    evidence by shared words, so a paraphrase ("three to five working days") can be checked
    against the wrong sentence. The entity gate (checked after it) then applies as usual."""
    aligned = np.clip((np.asarray(similarity, dtype=float) - EMB_LO) / (EMB_HI - EMB_LO), 0.0, 1.0)
    out = []
    for d, a, b in zip(detail, aligned, best):
        if d.reason == "number" and numbers(d.claim) <= idx.window_numbers[b] and not entities(d.claim) - idx.all_words:
            out.append(float(a))
        else:
            out.append(0.0 if d.reason else max(d.support, float(a)))
    return out


def _embedding_scores(answers: Sequence[str | None], contexts: Sequence[Sequence[str] | None]) -> list[float]:
    details = [groundedness_detail(a, c) for a, c in zip(answers, contexts)]
    indexes = [_index(tuple(c or ())) for c in contexts]
    sents = [i.sents for i in indexes]
    # One encode call for the whole batch; encode() deduplicates and caches across calls.
    texts = sorted({d.claim for det in details for d in det} | {s for ss in sents for s in ss})
    pos = {t: i for i, t in enumerate(texts)}
    vectors = embeddings.encode(texts)
    out = []
    for det, ss, idx in zip(details, sents, indexes):
        if not det:  # no factual claim (every claim weighs >= 1 content word)
            out.append(1.0)
            continue
        if not ss:  # nothing to be grounded in: every claim unsupported
            out.append(0.0)
            continue
        cos = vectors[[pos[d.claim] for d in det]] @ vectors[[pos[s] for s in ss]].T
        out.append(answer_groundedness(det, embedding_support(det, cos.max(axis=1), cos.argmax(axis=1), idx)))
    return out


def groundedness_many(answers: Sequence[str | None], contexts: Sequence[Sequence[str] | None],
                      method: str | None = None) -> np.ndarray:
    """Groundedness of each (answer, contexts) pair; `method` 'embeddings' or 'lexical', default
    embeddings.method() (embeddings when the extra is installed)."""
    if len(answers) != len(contexts):
        raise ValueError(f"{len(answers)} answers but {len(contexts)} context lists")
    method = method or embeddings.method()
    if method == "embeddings":
        return np.asarray(_embedding_scores(answers, contexts), dtype=float)
    if method != "lexical":
        raise ValueError(f"unknown groundedness method {method!r}: 'embeddings' or 'lexical'")
    return np.asarray([lexical_groundedness(a, c) for a, c in zip(answers, contexts)], dtype=float)


def groundedness(answer: str | None, contexts: list[str] | tuple[str, ...] | None, method: str | None = None) -> float:
    """Groundedness in [0, 1] of one answer (see the module docstring); 1.0 when it makes no claim."""
    return float(groundedness_many([answer], [contexts], method)[0])
