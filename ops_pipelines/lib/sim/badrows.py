"""Known, counted bad input for the ingestion quarantine to find (ground truth: bad_rows.json)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import numpy as np

REASONS: tuple[str, ...] = (
    "non_finite", "unparseable_row", "missing_field", "wrong_type", "naive_timestamp",
    "conflicting_duplicate", "outside_partition", "exact_duplicate",
)


class BadRowLedger:
    """Exact bad-row counts per output file (path relative to the landing zone)."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}

    def record(self, rel_path: str, rows: int, bad: dict[str, int]) -> None:
        self.files[rel_path] = {"rows": int(rows), "bad": {r: int(n) for r, n in sorted(bad.items()) if n}}

    def to_dict(self) -> dict[str, Any]:
        totals: dict[str, int] = {}
        for entry in self.files.values():
            for reason, n in entry["bad"].items():
                totals[reason] = totals.get(reason, 0) + n
        return {
            "reasons": list(REASONS),
            "counting": "rows as written; conflicting_duplicate counts every row of a conflicting group; "
                        "exact_duplicate counts only the extra copies",
            "files": dict(sorted(self.files.items())),
            "totals": dict(sorted(totals.items())),
        }


def injection_counts(rates: dict[str, float], n_rows: int, rng: np.random.Generator) -> dict[str, int]:
    """Rows (pairs for conflicting_duplicate) to spoil per reason: Poisson(rate x rows), seeded."""
    unknown = set(rates) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown bad-row reasons in config: {sorted(unknown)}")
    return {r: int(rng.poisson(rate * n_rows)) for r, rate in sorted(rates.items()) if rate > 0}


def pick_rows(rng: np.random.Generator, n_rows: int, counts: dict[str, int]) -> dict[str, np.ndarray]:
    """Disjoint row indices per reason, so one row never carries two defects."""
    total = sum(counts.values())
    if total > n_rows:
        raise ValueError(f"cannot spoil {total} of {n_rows} rows")
    chosen = rng.choice(n_rows, total, replace=False)
    out, pos = {}, 0
    for reason, n in sorted(counts.items()):
        out[reason] = np.sort(chosen[pos:pos + n])
        pos += n
    return out


def strip_offset(ts: str) -> str:
    """'...Z' or '...+01:00' -> the same wall-clock text without an offset."""
    if ts.endswith("Z"):
        return ts[:-1]
    return ts[:-6] if len(ts) > 6 and ts[-6] in "+-" and ts[-3] == ":" else ts


def previous_day(ts: str) -> str:
    """Same UTC time of day, one day earlier (timestamps here are UTC 'Z' strings)."""
    date = dt.date.fromisoformat(ts[:10]) - dt.timedelta(days=1)
    return date.isoformat() + ts[10:]


def inject_jsonl(lines: list[str], record_at: Callable[[int], dict[str, Any]], rng: np.random.Generator,
                 counts: dict[str, int], required: tuple[str, ...], numeric_key: str = "") -> tuple[list[str], dict[str, int]]:
    """Spoil JSON lines in place (or add copies for duplicates); returns new lines and rows per reason."""
    picks = pick_rows(rng, len(lines), counts)
    out = list(lines)
    for reason, rows in picks.items():
        for i in rows.tolist():
            rec = record_at(i)
            if reason == "naive_timestamp":
                rec["timestamp"] = strip_offset(rec["timestamp"])
            elif reason == "outside_partition":
                rec["timestamp"] = previous_day(rec["timestamp"])
            elif reason == "missing_field":
                del rec[required[int(rng.integers(len(required)))]]
            elif reason == "wrong_type":
                rec[numeric_key] = "n/a"
            elif reason == "non_finite":
                # Python's json writes the bare NaN/Infinity tokens many exporters emit.
                rec[numeric_key] = float("nan") if rng.random() < 0.5 else float("inf")
            elif reason == "unparseable_row":
                out[i] = out[i][: len(out[i]) // 2]
                continue
            elif reason == "exact_duplicate":
                out[i] = out[i] + "\n" + out[i]
                continue
            else:
                raise ValueError(f"reason {reason!r} is not supported for JSON lines")
            out[i] = json.dumps(rec)
    # Duplicates were joined to their original with a newline; split them back into rows.
    flat = "\n".join(out).split("\n") if out else []
    rows = {r: len(v) for r, v in picks.items()}
    return flat, rows
