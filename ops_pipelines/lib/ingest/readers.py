"""Readers turn one landing-zone file into untyped rows with their source line numbers (CSV: csvfile).

Every reader returns (rows, quarantine): `rows` has the file's fields plus `_line` (1-based line
in the file; row number for Parquet; null for JSON documents), `quarantine` holds lines that
could not be split into fields at all (also lines that are not UTF-8 or too long). Together they
are the rows read from the file. A file that cannot be read raises UnreadableFileError.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ops_pipelines.lib.ingest.csvfile import Rows
from ops_pipelines.lib.ingest.files import (
    RAW_CHARS,
    BadLine,
    UnreadableFileError,
    iter_text_lines,
    open_binary,
    sniff,
)
from ops_pipelines.lib.ingest.formats import DEFAULT_MAX_LINE_BYTES
from ops_pipelines.lib.ingest.quarantine import (
    Reason,
    empty_quarantine,
    quarantine_frame,
)


def read_parquet(path: Path) -> Rows:
    """Rows of a Parquet file; `_line` is the 1-based row number. Float nulls stay distinct from NaN."""
    import pyarrow.parquet as pq

    if not path.exists() or path.stat().st_size == 0:
        raise UnreadableFileError(path, "empty file (0 bytes)" if path.exists() else "file does not exist")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(path, f"not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    table = table.rename_columns([c.strip().lower() for c in table.column_names])
    try:
        table.validate(full=True)  # string columns written without UTF-8 checks by some writers
        rows = table.to_pandas(types_mapper={pa.float64(): pd.Float64Dtype(), pa.float32(): pd.Float64Dtype()}.get)
    except (pa.ArrowException, ValueError) as exc:
        raise UnreadableFileError(path, f"not a readable Parquet file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    rows["_line"] = np.arange(1, len(rows) + 1)
    return rows, empty_quarantine()


# A JSON escape in the surrogate range (\\ud800-\\udfff): only then can a parsed string be invalid UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


def _encodable(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def read_jsonl(path: Path, columns: Sequence[str], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Rows:
    """JSON Lines: one object per line; other lines are quarantined as unparseable."""

    def parse(text: str) -> dict | str:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"invalid JSON: {exc.msg} at column {exc.colno}"
        except RecursionError:
            return "invalid JSON: nested too deeply"
        if not isinstance(record, dict):
            return f"expected a JSON object, found {type(record).__name__}"
        if _SURROGATE_ESCAPE.search(text) and not _encodable(record):
            return BadLine(Reason.INVALID_UTF8, "a JSON \\u escape gives a lone surrogate (not UTF-8 text)", text[:RAW_CHARS])
        return {str(k).lower(): v for k, v in record.items()}

    return _read_lines(path, columns, parse, max_line_bytes)


def read_regex_lines(path: Path, pattern: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Rows:
    """Plain-text lines split by a regex with named groups; non-matching lines are quarantined."""
    regex = re.compile(pattern)

    def parse(text: str) -> dict | str:
        match = regex.match(text)
        return match.groupdict() if match else "line does not match the log pattern"

    return _read_lines(path, list(regex.groupindex), parse, max_line_bytes)


def _read_lines(path: Path, columns: Sequence[str], parse: Callable[[str], dict | str | BadLine], max_line_bytes: int) -> Rows:
    """Rows from a line-oriented text file; `parse` gives a record or the reason it cannot.

    Blank lines are not rows; every other line becomes a row or a quarantine row.
    """
    sniff(path)
    data: dict[str, list] = {c: [] for c in columns}
    lines, bad = [], []
    for number, text in iter_text_lines(path, max_line_bytes):
        if isinstance(text, BadLine):
            bad.append((number, text))
            continue
        if not text.strip():
            continue
        record = parse(text)
        if isinstance(record, str):
            record = BadLine(Reason.UNPARSEABLE_ROW, record, text[:RAW_CHARS])
        if isinstance(record, BadLine):
            bad.append((number, record))
            continue
        for c in columns:
            data[c].append(record.get(c))
        lines.append(number)
    rows = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
    rows["_line"] = np.asarray(lines, dtype=np.int64)
    quarantine = quarantine_frame(
        str(path), [n for n, _ in bad], [b.reason.value for _, b in bad], [b.detail for _, b in bad], [b.raw for _, b in bad]
    )
    return rows, quarantine


def read_json_document(path: Path, parse: Callable[[object], Rows]) -> Rows:
    """A whole-file JSON document handed to `parse`; an invalid document is one file error."""
    sniff(path)
    try:
        with open_binary(path) as fh:
            text = fh.read().decode("utf-8")
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(path, f"invalid JSON document: {exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    except RecursionError:
        raise UnreadableFileError(path, "invalid JSON document: nested too deeply") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) and not _encodable(doc):
        raise UnreadableFileError(path, "a JSON \\u escape gives a lone surrogate (not UTF-8 text)")
    return parse(doc)
