"""Shared text normalisation: sentences, clauses, content tokens with a light stemmer, numbers."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache


def words(text: str) -> list[str]:
    """Whitespace-separated words of a literal word list (keeps long lists readable)."""
    return text.split()


STOPWORDS = frozenset(words("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not of off on once only or other our ours ourselves out over own same she should so
some such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves also may might must shall s t don isn aren wasn weren let us get got
"""))
# `not`, `no`, `only` are stopwords for overlap; negation is too rare in these data to model lexically.

NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
    "fourteen": "14", "fifteen": "15", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "half": "0.5", "once": "1",
    "twice": "2",
}

# A sentence ends at . ! ? before a capital or digit; a stop with spaces on both sides (tokenised
# text, often lower-cased: "he left . she stayed") ends one before anything.
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|(?<=\s[.!?])\s+|\n+")
_CLAUSE = re.compile(r";\s+|,\s+(?:and|but|while|whereas|otherwise)\s+|:\s+(?=[A-Za-z])")
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,:]\d+)*(?:-\d+(?:[.,:]\d+)*)?")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_PLACEHOLDER = re.compile(r"\[UNK\]|<unk>|\bUNK\b")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ness", "ings", "ing", "edly", "ed", "ies", "es", "ers",
             "er", "ly", "s", "y", "e")


def sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by a capital or digit, on a space-separated stop
    (tokenised text) and on newlines."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


def clauses(sentence: str) -> list[str]:
    """Split a sentence into clauses at `;`, `:` and `, and|but|...`: each clause is one claim."""
    return [c.strip() for c in _CLAUSE.split(sentence) if c and c.strip()]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Crude suffix stripping (returned/returns/return -> return); enough to match inflections."""
    w = word.lower().removesuffix("'s")
    if len(w) <= 4:
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def normalise_number(raw: str) -> str:
    """'1,000' -> '1000', '4.95' -> '4.95', '30.0' -> '30'; times keep their colon."""
    s = raw
    if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
        s = s.replace(",", "")
    s = s.replace(",", ".") if re.fullmatch(r"\d+,\d{1,2}", s) else s
    if re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    return s.lstrip("0") or "0" if re.fullmatch(r"\d+", s) else s


def raw_tokens(text: str) -> list[str]:
    """Word and number tokens; a generator's unknown-word placeholder (UNK, [UNK], <unk>) is no word."""
    return _TOKEN.findall(_PLACEHOLDER.sub(" ", text or ""))


def content_tokens(text: str) -> list[str]:
    """Stemmed, lower-cased tokens without stopwords; numbers kept (normalised), number words mapped."""
    out = []
    for tok in raw_tokens(text):
        low = tok.lower()
        if low in STOPWORDS:
            continue
        if low in NUMBER_WORDS:
            out.append(NUMBER_WORDS[low])
        elif tok[0].isdigit():
            out.extend(normalise_number(n) for n in _NUMBER.findall(tok))
        else:
            out.append(stem(low))
    return out


def numbers(text: str) -> set[str]:
    """Numbers written with digits or as number words, normalised ('3-5' gives {'3', '5'})."""
    found = {normalise_number(n) for n in _NUMBER.findall(text or "")}
    found |= {NUMBER_WORDS[w.lower()] for w in re.findall(r"[A-Za-z]+", text or "") if w.lower() in NUMBER_WORDS
              and w.lower() not in ("one", "first", "second", "once", "half")}
    return found


def entities(text: str) -> set[str]:
    """Capitalised words that do not start a sentence: proper names, products, places (stemmed)."""
    found = set()
    for sent in sentences(text):
        toks = raw_tokens(sent)
        for _, tok in itertools.pairwise(toks):
            if tok[0].isupper() and tok.lower() not in STOPWORDS and not tok.startswith("I'") and tok != "I":
                found.add(stem(tok.lower()))
    return found
