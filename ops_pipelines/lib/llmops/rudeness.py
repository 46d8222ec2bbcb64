"""Rudeness of an answer in [0, 1]: dismissive, condescending, curt, blaming or sarcastic wording.

Separate from toxicity (toxicity.py flags insults and profanity): "Seriously, read the policy before
asking." has no bad word and is still rude. A logistic regression over binary features: word
unigrams and bigrams (lower-cased, `?` and `!` kept as tokens), politeness strategies after
Danescu-Niculescu-Mizil et al. (ACL 2013: gratitude, hedges, direct questions and starts, second
person, ..., and their positive / negative lexicon as VADER sentiment bins) and kinds of rude
wording (RUDE_MARKERS). Its weights were trained on the Stanford Politeness Corpus (Stack Exchange,
impolite = bottom quartile, polite = top quartile) by `benchmarks/train_rudeness.py` and ship as
JSON in assets/llmops/rudeness_model.json (no pickle), which names the training data, licence and
cross-validated figures.

Two things the corpus cannot teach, because it holds requests, not answers:
- Plain statements score high (0.6-0.8): among requests, one without "please", "could you" or
  thanks is less polite. So a factual answer sentence and a curt rude one score alike.
- Rude wording is rare in it, so its weights stay small. Each kind of rude wording a sentence
  matches therefore adds MARKER_BOOST log-odds on top of the learned weights (a stated prior,
  not fitted); cross-validated ROC-AUC on the corpus moves by less than 0.005 with it.
A text's log-odds mix its rudest sentence (a rude opener stays rude however long the factual
answer after it) with its rudest pair of consecutive sentences (what a request says across its
sentences): PAIR_WEIGHT.
The `rude` flag threshold is in the model file, set on the sample world's normal answers to a 0.5%
false-flag budget, without looking at its rude answers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ops_pipelines.settings import ASSETS_DIR

MODEL_PATH = ASSETS_DIR / "llmops" / "rudeness_model.json"

# Strategy name -> pattern, matched case-insensitively on one sentence (caps_word: case-sensitive).
STRATEGIES: dict[str, str] = {
    # Danescu-Niculescu-Mizil et al. (2013), Table 3, in our own words
    "gratitude": r"\b(?:thanks?|thank you|thx|appreciate[ds]?|grateful)\b",
    "deference": r"^\W*(?:great|good|nice|interesting|excellent|cool|awesome)\s+(?:question|point|answer|idea|work|catch)",
    "greeting": r"^\W*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b",
    "apology": r"\b(?:sorry|apologi[sz]e|apologies|excuse me|my bad|pardon)\b",
    "please": r"\bplease\b",
    "please_start": r"^\W*please\b",
    "by_the_way": r"\b(?:by the way|btw|incidentally)\b",
    "direct_question": r"^\W*(?:what|why|who|how|where|when)\b",
    "direct_start": r"^\W*(?:so|then|and|but|or)\b",
    "counterfactual_modal": r"\b(?:could|would)\s+you\b",
    "indicative_modal": r"\b(?:can|will)\s+you\b",
    "first_person_start": r"^\W*(?:i|my|mine|myself)\b",
    "first_person_plural": r"\b(?:we|our|us|ourselves)\b",
    "first_person": r"\b(?:i|my|mine|myself|me)\b",
    "second_person": r"\b(?:you|your|yours|yourself|u)\b",
    "second_person_start": r"^\W*(?:you|your|u)\b",
    "hedge": (r"\b(?:think|thought|perhaps|maybe|might|possibly|probably|seems?|suggest|guess|wonder(?:ing)?|"
              r"somewhat|kind of|sort of|i believe|not sure|assume)\b"),
    "factuality": r"\b(?:actually|in fact|really|obviously|clearly|of course|surely|certainly|definitely|simply|just)\b",
    "subjunctive": r"\b(?:could|would|might)\b",
    "negation": r"\b(?:not|no|never|nothing|none|nobody|don'?t|doesn'?t|didn'?t|isn'?t|aren'?t|can'?t|won'?t|wasn'?t)\b",
    "exclamation": r"!",
    "repeated_question": r"\?\s*\?|\?!|!\?",
    "caps_word": r"\b[A-Z]{3,}\b",
}

# Rude wording without insult, after Culpeper's impoliteness formulae (Culpeper 1996, 2011: pointed
# criticism, challenging questions, condescension, message enforcers, dismissals) in the kinds the
# issue names. Hand-written, and grown in rounds against the sample world's phrasings: each round
# of new phrasings was measured before its misses were folded in (docs/llmops.md: 2 of 10 new
# phrasings caught in each round). They recognise the wording they list, not rudeness at large.
RUDE_MARKERS: dict[str, str] = {
    "dismissive": (r"\b(?:whatever|not my (?:problem|job|concern)|(?:figure|work|sort) (?:it|this|that|the rest) out"
                   r"(?: yourself)?|deal with it|so what|who cares|i don'?t care|doesn'?t matter|look it up|google it|"
                   r"stop asking|end of story|that'?s (?:it|all)|go away|forget it|don'?t have time|"
                   r"nothing (?:more|else) to (?:say|add)|yourself\.|not (?:really )?my (?:concern|problem|job)|"
                   r"don'?t (?:contact|ask|bother) (?:us|me)\b.{0,30}\bagain|can'?t help you (?:beyond|further|any ?more))"),
    "condescending": (r"\b(?:obviously|clearly|as i (?:said|told you|already said)|even a child|not (?:that )?hard|"
                      r"not rocket science|(?:not|isn'?t) (?:that |really )?(?:hard|difficult|complicated)|"
                      r"it'?s (?:simple|easy|basic|trivial)|read the|did you (?:even|not|bother)|have you (?:even|bother)|"
                      r"if you had (?:read|bothered|looked)|let me (?:explain|spell)\b.{0,20}\b(?:slowly|again|out)|"
                      r"for the (?:last|third|hundredth|tenth) time|pay(?:ing)? attention|any(?:one|body) (?:can|could|would)"
                      r" (?:see|tell|know)|(?:dumb|stupid|silly|pointless) question|(?:keep|make|put) (?:this|it) simple|"
                      r"(?:spell|break) (?:it|this) (?:out|down)|on (?:your|their) own|(?:most|other) (?:customers|people|users)"
                      r" (?:manage|can|know|figure|understand)|the basics|one more time|clear enough)"),
    "blaming": (r"\b(?:your (?:fault|mistake|problem|own fault)|you should have|you (?:didn'?t|did not|failed to|"
                r"forgot to|never) (?:read|check|look|follow|bother|pay|listen)|you were supposed to|next time|"
                r"(?:is|was) on you|before (?:asking|writing|posting|complaining)|had you (?:read|checked|looked|bothered)|"
                r"you'?d (?:already )?know|(?:yourself|you) to blame|blame yourself|if you'?d (?:followed|read|checked|listened)|"
                r"wouldn'?t have happened|be more careful)"),
    "sarcastic": (r"\b(?:congratulations|congrats|wow|brilliant|genius|shocking|what a surprise|surprise,? surprise|"
                  r"thanks for nothing|nice try|yeah,? right|oh,? (?:great|sure|really)|good luck with that|"
                  r"hope (?:that|this) (?:wasn'?t|isn'?t) too (?:much|hard|difficult)|my favou?rite (?:question|topic)|"
                  r"oh,? (?:good|joy)|(?:truly|real|such) a mystery|for the ages|another (?:person|customer|one) who|"
                  r"amazing how)"),
    "curt": (r"(?:^\W*(?:no|nope|wrong|fine|look|listen|seriously|ugh|duh)\b[.,!]|\basked and answered\b|"
             r"\balready (?:answered|told|said|explained|covered|mentioned|documented|stated)\b|\brtfm\b|^\W*read the\b|"
             r"\bend of (?:story|discussion|conversation)\b|\bperiod\.\s*$|\bdone here\b|"
             r"^\W*(?:check|read|see) (?:your|the) \w+\.\s*$)"),
}
# A text's learned log-odds: (1 - w) * its rudest sentence's + w * its rudest pair of consecutive
# sentences' (scored as one text). The rudest sentence keeps a rude opener rude; the pair carries
# what a request says across its sentences (thanks after the question, a hedge before it; the
# corpus' requests are two sentences, so for them the pair is the whole request). A pair, not the
# whole text: a rude opener is then diluted by one neighbour, never by a long (or verbose) answer.
# w was chosen on the corpus' Stack Overflow requests (10-fold CV) and on the sample world's rude
# answers flagged at a 0.5% false-flag budget (threshold from seed 7, 14 days; also seed 5, 2 days,
# whose verbose incident answers dilute most), w = 0 / 0.25 / 0.35 / 0.5: requests 0.822 / 0.840 /
# - / 0.850; rude answers flagged, seed 7: 88% / 91% / 92% / 87%, seed 5: 80% / 84% / 82% / 76%.
# (Scoring the whole text instead of the rudest pair: 0.853 on requests at w = 0.5, 70% on seed 7.)
PAIR_WEIGHT = 0.25
MARKER_BOOST = 2.0  # log-odds added per kind of rude wording a sentence matches (a prior, see module doc)
_CASE_SENSITIVE = frozenset({"caps_word"})
_COMPILED = {name: re.compile(p, 0 if name in _CASE_SENSITIVE else re.IGNORECASE) for name, p in STRATEGIES.items()}
_MARKERS = {kind: re.compile(p, re.IGNORECASE) for kind, p in RUDE_MARKERS.items()}
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[?!]")
# A sentence ends at . ! ? (kept with it) before whitespace; newlines end one too.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str | None) -> list[str]:
    """The sentences a rudeness score is taken over (blank ones dropped)."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # lexicon read once per process

    return SentimentIntensityAnalyzer()


def sentiment_features(text: str) -> list[str]:
    """The paper's positive and negative lexicon strategies, from VADER's compound score (Hutto and
    Gilbert 2014; a general-purpose lexicon, so it carries beyond Stack Exchange): `v:neg` at
    <= -0.05, `v:neg_strong` at <= -0.5, `v:pos` at >= 0.05, `v:pos_strong` at >= 0.5."""
    c = _vader().polarity_scores(text)["compound"]
    return [name for name, on in (("v:neg", c <= -0.05), ("v:neg_strong", c <= -0.5), ("v:pos", c >= 0.05),
                                  ("v:pos_strong", c >= 0.5)) if on]


@lru_cache(maxsize=65536)
def _sentence_features(sentence: str) -> frozenset[str]:
    """Features of one sentence; cached, since answers of one app repeat their sentences."""
    toks = _TOKEN.findall(sentence.lower())
    found = {f"w:{t}" for t in toks}
    found |= {f"b:{a} {b}" for a, b in zip(toks, toks[1:])}
    found |= {f"s:{name}" for name, rx in _COMPILED.items() if rx.search(sentence)}
    found |= set(sentiment_features(sentence))
    found |= {f"m:{kind}" for kind, rx in _MARKERS.items() if rx.search(sentence)}
    return frozenset(found)


def _joined_features(parts: Sequence[str]) -> frozenset[str]:
    """Features of consecutive sentences: each sentence's, plus the word pair across each boundary."""
    found = frozenset().union(*(_sentence_features(p) for p in parts))
    edges = [(_TOKEN.findall(a.lower()), _TOKEN.findall(b.lower())) for a, b in zip(parts, parts[1:])]
    return found | {f"b:{x[-1]} {y[0]}" for x, y in edges if x and y}


def features(text: str) -> list[str]:
    """Names of the binary features present in a text: `w:<word>`, `b:<word> <word>`,
    `s:<strategy>`, `v:<sentiment>` and `m:<kind of rude wording>`, each taken per sentence (the
    strategies that look at a start look at each sentence's start, as in the paper) and pooled.
    Training and scoring both use it, so they cannot drift apart."""
    return sorted(_joined_features(sentences(text) or [text]))


def _sigmoid(z: float) -> float:
    z = min(50.0, max(-50.0, z))  # a run-on "sentence" of thousands of words must not overflow exp
    return float(1.0 / (1.0 + math.exp(-z)))


@dataclass(frozen=True)
class RudenessModel:
    weights: dict[str, float]
    intercept: float
    threshold: float
    pair_weight: float = PAIR_WEIGHT

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> RudenessModel:
        doc = json.loads(Path(path).read_text())
        try:
            return cls({str(k): float(v) for k, v in doc["weights"].items()}, float(doc["intercept"]),
                       float(doc["threshold"]), float(doc.get("pair_weight", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid rudeness model ({exc})") from None

    def logit(self, sentence: str, boost: float = MARKER_BOOST) -> float:
        """Log-odds of impolite for one sentence (or a whole text): the learned weights, plus `boost`
        log-odds per kind of rude wording matched (0 gives the model exactly as trained)."""
        found = features(sentence)
        z = self.intercept + sum(self.weights.get(f, 0.0) for f in found)
        return z + boost * sum(f.startswith("m:") for f in found)

    def sentence_prob(self, sentence: str, boost: float = MARKER_BOOST) -> float:
        """P(impolite) of one sentence scored on its own."""
        return _sigmoid(self.logit(sentence, boost))

    def text_prob(self, text: str, boost: float = MARKER_BOOST,
                  memo: dict[tuple[str, ...], tuple[float, frozenset[str]]] | None = None) -> float:
        """P(impolite) of a text: the learned log-odds of its rudest sentence mixed with its rudest
        pair of consecutive sentences' (pair_weight), plus `boost` per kind of rude wording found
        anywhere in it (a prior about the wording itself, never averaged away). NaN if blank."""
        parts = sentences(text)
        if not parts:
            return float("nan")
        memo = {} if memo is None else memo
        units = [(p,) for p in parts]
        pairs = list(zip(parts, parts[1:])) if self.pair_weight > 0 else []
        for u in units + pairs:
            if u not in memo:
                memo[u] = self._scored(u)
        z = max(memo[u][0] for u in units)
        if pairs:
            z = (1 - self.pair_weight) * z + self.pair_weight * max(memo[u][0] for u in pairs)
        kinds = frozenset().union(*(memo[u][1] for u in units))
        return _sigmoid(z + boost * len(kinds))

    def _scored(self, parts: tuple[str, ...]) -> tuple[float, frozenset[str]]:
        """Learned log-odds of consecutive sentences and the kinds of rude wording they match."""
        found = _joined_features(parts)
        z = self.intercept + sum(self.weights.get(f, 0.0) for f in found)
        return z, frozenset(f for f in found if f.startswith("m:"))


@lru_cache(maxsize=1)
def model() -> RudenessModel:
    """The shipped model, loaded once per process."""
    return RudenessModel.load()


def rudeness(text: str | None, fitted: RudenessModel | None = None, _memo: dict | None = None) -> float:
    """P(impolite) of the text in [0, 1] (RudenessModel.text_prob), rounded to 4 decimals; NaN for
    a missing or blank text."""
    if not isinstance(text, str):
        return float("nan")
    p = (fitted or model()).text_prob(text, memo=_memo)
    return p if math.isnan(p) else round(p, 4)


def rudeness_probs(texts: Sequence[str | None], fitted: RudenessModel | None = None) -> np.ndarray:
    """rudeness() of each text; identical texts and sentences are scored once per call (answers
    of one app share greetings, closings and policy sentences)."""
    m = fitted or model()
    memo: dict[str, tuple[float, frozenset[str]]] = {}
    seen: dict[str | None, float] = {}
    for t in texts:
        if t not in seen:
            seen[t] = rudeness(t if isinstance(t, str) else None, m, memo)
    return np.array([seen[t] for t in texts], dtype=float)


def rude_threshold() -> float:
    """Score at and above which an answer is flagged `rude` (from the model file)."""
    return model().threshold
