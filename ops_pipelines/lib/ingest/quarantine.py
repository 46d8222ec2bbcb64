"""Quarantine rows: every input row we cannot use, with the reason, the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum

import numpy as np
import pandas as pd


class Reason(StrEnum):
    """Why a row (or a whole file) was quarantined; the values are stable, documented codes."""

    UNPARSEABLE_ROW = "unparseable_row"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NON_FINITE = "non_finite"
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    NAIVE_TIMESTAMP = "naive_timestamp"
    EPOCH_UNIT_MISMATCH = "epoch_unit_mismatch"
    FUTURE_TIMESTAMP = "future_timestamp"
    OUTSIDE_PARTITION = "outside_partition"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    UNREADABLE_FILE = "unreadable_file"
    INVALID_UTF8 = "invalid_utf8"
    LINE_TOO_LONG = "line_too_long"
    OUT_OF_RANGE = "out_of_range"
    UNREADABLE_FILE_NAME = "unreadable_file_name"
    SYMLINK_OUTSIDE_LANDING_ZONE = "symlink_outside_landing_zone"


# Reasons that stand for a whole file (one quarantine row, no line): the file's rows are counted
# apart, as its line count where that can be known (see IngestResult.accounts).
FILE_REASONS = frozenset({Reason.UNREADABLE_FILE, Reason.UNREADABLE_FILE_NAME, Reason.SYMLINK_OUTSIDE_LANDING_ZONE})


# Compact per-row reason codes for vectorised validation: 0 = fine, else CODE[reason].
CODE = {reason: i + 1 for i, reason in enumerate(Reason)}
REASON_OF_CODE = {code: reason for reason, code in CODE.items()}

QUARANTINE_COLUMNS = ["source_file", "line", "reason", "detail", "raw"]


def quarantine_frame(
    source_file: str | Sequence[str],
    lines: Iterable[int | None],
    reason: str | Sequence[str],
    detail: str | Sequence[str],
    raw: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build quarantine rows; scalars are broadcast over the lines."""
    line_list = list(lines)
    n = len(line_list)

    def col(value: str | Sequence[str]) -> list[str]:
        return [safe_text(value)] * n if isinstance(value, str) else [safe_text(str(v)) for v in value]

    return pd.DataFrame(
        {
            "source_file": col(source_file),
            "line": pd.array(line_list, dtype="Int64"),
            "reason": col(reason),
            "detail": col(detail),
            "raw": col(raw) if raw is not None else [""] * n,
        },
        columns=QUARANTINE_COLUMNS,
    )


def safe_text(text: str) -> str:
    """`text` as valid UTF-8: lone surrogates (undecodable file-name bytes, JSON `\\ud800`) become
    backslash escapes, so a quarantine row can always be written to Parquet and shown."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")  # a file name's original bytes
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "backslashreplace")
        return raw.decode("utf-8", "backslashreplace")


def empty_quarantine() -> pd.DataFrame:
    return quarantine_frame([], [], [], [], [])


def concat_quarantine(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate quarantine frames in one order (file, line, reason, detail, raw): rows without a line (JSON
    documents) are ordered by what they say, so the order never depends on which frame came first."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_quarantine()
    out = pd.concat(frames, ignore_index=True)
    keys = ("raw", "detail", "reason")
    order = np.lexsort((*(out[k].to_numpy() for k in keys), out["line"].fillna(-1).to_numpy(), out["source_file"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    out["line"] = out["line"].astype("Int64")
    return out


def raw_text(frame: pd.DataFrame, max_chars: int = 500) -> list[str]:
    """The original fields of rows as compact JSON, so a quarantine row can be inspected and replayed."""
    fields = [c for c in frame.columns if not c.startswith("_")]
    records = frame[fields].astype(object).where(frame[fields].notna(), None).to_dict("records")
    return [json.dumps(r, default=str, ensure_ascii=False)[:max_chars] for r in records]


def reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    """Quarantined rows per reason, every known reason present (zero when absent)."""
    counts = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    return {r.value: int(counts.get(r.value, 0)) for r in Reason}
