"""Text pieces for the support assistant: knowledge-base answers (right and wrong) and fake PII."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Topic:
    """One shop policy: its passages, how users ask about it, and answers true or subtly false."""

    name: str
    passages: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    wrong_answers: tuple[tuple[int, str], ...]  # (index of the true answer it distorts, text)
    invented: tuple[str, ...]
    extra_for: tuple[str, ...]  # per answer: the passage that adds most to it


def compile_kb(entries: list[dict[str, Any]]) -> list[Topic]:
    """Fill the facts into every text; a wrong answer swaps exactly one fact for a plausible false value."""
    topics = []
    for e in entries:
        facts = e["facts"]
        passages = tuple(p.format(**facts) for p in e["passages"])
        answers = tuple(a.format(**facts) for a in e["answers"])
        wrong = []
        for index, template in enumerate(e["answers"]):
            for field in sorted({n for _, n, _, _ in string.Formatter().parse(template) if n}):
                wrong += [(index, template.format(**{**facts, field: value})) for value in e["wrong"][field]]
        topics.append(Topic(e["topic"], passages, tuple(e["questions"]), answers, tuple(wrong),
                            tuple(e["invented"]), tuple(_least_overlap(a, passages) for a in answers)))
    return topics


def _least_overlap(answer: str, passages: tuple[str, ...]) -> str:
    words = set(answer.lower().split())
    return min(passages, key=lambda p: len(words & set(p.lower().split())) / len(p.split()))


def luhn_check_digit(payload: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    digits = "".join(c for c in number if c.isdigit())
    return len(digits) >= 12 and luhn_check_digit(digits[:-1]) == int(digits[-1])


def card_number(rng: np.random.Generator) -> str:
    """A 16-digit Visa-like number that passes Luhn, sometimes grouped in fours."""
    payload = "4" + "".join(str(d) for d in rng.integers(0, 10, 14))
    number = payload + str(luhn_check_digit(payload))
    return " ".join(number[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else number


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    moved = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in moved)
    return int(numeric) % 97 == 1


def german_iban(rng: np.random.Generator) -> str:
    """A DE IBAN with correct mod-97 check digits, printed in groups of four."""
    bban = "".join(str(d) for d in rng.integers(0, 10, 18))
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, check digits 00 moved to the end
    compact = f"DE{check:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def pii_value(kind: str, rng: np.random.Generator, names: list[str], domains: list[str]) -> str:
    if kind == "email":
        return f"{rng.choice(names)}{int(rng.integers(1, 99))}@{rng.choice(domains)}"
    if kind == "phone":
        return f"+49 30 {int(rng.integers(1000000, 9999999))}"
    if kind == "card":
        return card_number(rng)
    if kind == "iban":
        return german_iban(rng)
    if kind == "ip":
        return f"203.0.113.{int(rng.integers(1, 255))}"
    raise ValueError(f"unknown PII kind {kind!r}")
