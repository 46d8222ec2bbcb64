"""Lexical, claim-level groundedness of an answer in its retrieved contexts, in [0, 1].

Method (no model, no network):
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
4. A claim counts as supported when support >= CLAIM_SUPPORT (0.5: lexical matching misses
   paraphrases, so half the words is already good evidence). Answer groundedness = the share of
   supported claims, each weighted by its number of content words. A share rather than the min, so
   that one non-factual aside (an insult, a filler sentence) does not zero an otherwise grounded
   answer (partial credit below the cut was tried: it hid short invented claims in long answers).
   An answer with no claim (a refusal, a greeting) scores 1.0: it asserts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ops_pipelines.lib.llmops.relevance import is_refusal
from ops_pipelines.lib.llmops.text import clauses, content_tokens, entities, numbers, sentences, stem

CLAIM_SUPPORT = 0.5
REDACTED = "[REDACTED:"  # clauses carrying PII are judged by the PII scorer, not here
PHATIC = frozenset(stem(w) for w in """
thank thanks happy glad help helping hope question good great sure welcome anything else know reach
reaching out assist assistance pleasure hello hi hey dear certainly absolutely course sorry please feel
ask yes nice wonderful lovely regards cheers okay ok
""".split())


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
    words = {t for t in toks if not _is_number(t)}
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


def groundedness(answer: str | None, contexts: list[str] | tuple[str, ...] | None) -> float:
    """Token-weighted share of supported claims in [0, 1]; 1.0 when the answer makes no factual claim."""
    detail = groundedness_detail(answer, contexts)
    total = sum(d.weight for d in detail)
    if total == 0:
        return 1.0
    return sum((d.support >= CLAIM_SUPPORT) * d.weight for d in detail) / total
