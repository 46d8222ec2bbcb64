"""PII detection with checksums where the format has one, and redaction.

Kinds: email, phone (E.164-style international and common national formats), card (13-19 digits,
spaces or dashes allowed, Luhn-valid only), iban (ISO 13616 mod-97 valid), ip (IPv4 and IPv6,
validated by `ipaddress`), ssn (US social security number, invalid area/group/serial excluded).
Overlaps resolve by priority (email > iban > card > ssn > ip > phone), then by length.
"""

from __future__ import annotations

import ipaddress
import re

Span = tuple[int, int]

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +49 30 1234567, +1 (415) 555-0100
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]?\d{4}"  # (415) 555-0100
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 415-555-0100
    r"|0\d{2,4}[ /-]\d{3,8}(?:[ -]\d{2,4})?"  # 030 1234567, 020-7946-0018
    r")(?!\w)"
)
PRIORITY = ("email", "iban", "card", "ssn", "ip", "phone")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 1 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _candidates(text: str) -> list[tuple[str, Span]]:
    found: list[tuple[str, Span]] = [("email", m.span()) for m in _EMAIL.finditer(text)]
    found += [("iban", m.span()) for m in _IBAN.finditer(text) if iban_valid(m.group())]
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(("card", m.span()))
    found += [("ssn", m.span()) for m in _SSN.finditer(text)]
    found += [("ip", m.span()) for m in _IPV4.finditer(text) if _ip_valid(m.group())]
    found += [("ip", m.span()) for m in _IPV6.finditer(text) if m.group().count(":") >= 2 and _ip_valid(m.group())]
    for m in _PHONE.finditer(text):
        if 7 <= sum(c.isdigit() for c in m.group()) <= 15:
            found.append(("phone", m.span()))
    return found


def find_pii(text: str | None) -> list[tuple[str, Span]]:
    """(kind, (start, end)) for every PII item in the text, non-overlapping, in text order."""
    if not text:
        return []
    cands = sorted(_candidates(text), key=lambda c: (PRIORITY.index(c[0]), -(c[1][1] - c[1][0])))
    kept: list[tuple[str, Span]] = []
    for kind, (s, e) in cands:
        if all(e <= ks or s >= ke for _, (ks, ke) in kept):
            kept.append((kind, (s, e)))
    return sorted(kept, key=lambda c: c[1])


def redact(text: str | None, found: list[tuple[str, Span]] | None = None) -> str | None:
    """The text with every PII item replaced by `[REDACTED:<kind>]`."""
    if text is None:
        return None
    out, pos = [], 0
    for kind, (s, e) in find_pii(text) if found is None else found:
        out += [text[pos:s], f"[REDACTED:{kind}]"]
        pos = e
    return "".join(out) + text[pos:]
