"""Rudeness of an answer in [0, 1]: dismissive, condescending, curt, blaming or sarcastic wording.

Separate from toxicity (toxicity.py flags insults and profanity): "Seriously, read the policy before
asking." has no bad word and is still rude. The model is a logistic regression over binary
features of one sentence: word unigrams and bigrams (lower-cased, `?` and `!` kept as tokens) and
politeness strategies after Danescu-Niculescu-Mizil et al. (ACL 2013: gratitude, hedges, direct
questions and starts, second person, ...) plus our own markers of dismissive, condescending,
blaming and sarcastic wording. Its weights were trained on the Stanford Politeness Corpus (Stack
Exchange half, impolite = bottom quartile, polite = top quartile) by
`benchmarks/train_rudeness.py` and ship as JSON in assets/llmops/rudeness_model.json (no pickle);
the training data, licence and cross-validated figures are named in that file.

An answer's rudeness is the highest sentence score: a rude opener stays rude however long the
polite factual answer after it (scoring the whole answer let the neutral sentences dilute it).
RUDE_THRESHOLD (in the model file) is set on the sample world's normal answers to a false-flag
budget, not on its rude ones (see the training script).
"""

from __future__ import annotations

import json
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
    # our markers of rude wording without insult (written before the sample world's rude phrasings
    # and not edited after them; their weights are learned on the politeness corpus)
    "dismissive": (r"\b(?:whatever|not my problem|figure it out|deal with it|so what|who cares|doesn'?t matter|"
                   r"look it up|google it|stop asking|end of story|that'?s it|that'?s all)\b"),
    "condescending": (r"\b(?:obviously|clearly|of course|simply|as i (?:said|told you|already said)|even a child|"
                      r"not (?:that )?hard|not rocket science|it'?s (?:not|really not) (?:that )?(?:hard|difficult|complicated)|"
                      r"basic|trivial|read the|did you (?:even|not|bother)|have you (?:even|bother)|"
                      r"if you had (?:read|bothered|looked))\b"),
    "blaming": (r"\b(?:your (?:fault|mistake|problem|own)|you should have|you (?:didn'?t|did not|failed to|"
                r"forgot to|never)|you were supposed to|next time|again)\b"),
    "sarcasm": (r"\b(?:congratulations|congrats|good luck|wow|brilliant|genius|shocking|what a surprise|"
                r"surprise,? surprise|thanks for nothing|nice try|sure,? jan|yeah,? right)\b"),
    "curt_start": r"^\W*(?:no|nope|wrong|fine|ok|okay|look|listen|seriously|ugh|um+|duh|again)\b",
}
_CASE_SENSITIVE = frozenset({"caps_word"})
_COMPILED = {name: re.compile(p, 0 if name in _CASE_SENSITIVE else re.IGNORECASE) for name, p in STRATEGIES.items()}
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[?!]")
# A sentence ends at . ! ? (kept with it) before whitespace; newlines end one too.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str | None) -> list[str]:
    """The sentences a rudeness score is taken over (blank ones dropped)."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


def features(sentence: str) -> list[str]:
    """Names of the binary features present in one sentence: `w:<word>`, `b:<word> <word>` and
    `s:<strategy>`. Training and scoring both use this function, so they cannot drift apart."""
    toks = _TOKEN.findall(sentence.lower())
    found = {f"w:{t}" for t in toks}
    found |= {f"b:{a} {b}" for a, b in zip(toks, toks[1:])}
    found |= {f"s:{name}" for name, rx in _COMPILED.items() if rx.search(sentence)}
    return sorted(found)


@dataclass(frozen=True)
class RudenessModel:
    weights: dict[str, float]
    intercept: float
    threshold: float

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> RudenessModel:
        doc = json.loads(Path(path).read_text())
        try:
            return cls({str(k): float(v) for k, v in doc["weights"].items()}, float(doc["intercept"]),
                       float(doc["threshold"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid rudeness model ({exc})") from None

    def sentence_prob(self, sentence: str) -> float:
        z = self.intercept + sum(self.weights.get(f, 0.0) for f in features(sentence))
        return float(1.0 / (1.0 + np.exp(-z)))


@lru_cache(maxsize=1)
def model() -> RudenessModel:
    """The shipped model, loaded once per process."""
    return RudenessModel.load()


def rudeness(text: str | None, fitted: RudenessModel | None = None) -> float:
    """Highest sentence P(impolite) of the text in [0, 1]; NaN for a missing or blank text."""
    parts = sentences(text)
    if not parts:
        return float("nan")
    m = fitted or model()
    return round(max(m.sentence_prob(s) for s in parts), 4)


def rudeness_probs(texts: Sequence[str | None], fitted: RudenessModel | None = None) -> np.ndarray:
    """rudeness() of each text; identical texts are scored once."""
    m = fitted or model()
    seen: dict[str | None, float] = {}
    for t in texts:
        if t not in seen:
            seen[t] = rudeness(t if isinstance(t, str) else None, m)
    return np.array([seen[t] for t in texts], dtype=float)


def rude_threshold() -> float:
    """Score at and above which an answer is flagged `rude` (from the model file)."""
    return model().threshold
