"""Readers turn one landing-zone file into untyped rows with their source line numbers.

Every reader returns (rows, quarantine): `rows` has the file's fields plus `_line` (1-based line
in the file; row number for Parquet; null for JSON documents), `quarantine` holds lines that
could not be split into fields at all. A file that cannot be read raises UnreadableFileError.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ops_pipelines.lib.ingest.files import (
    UnreadableFileError,
    iter_text_lines,
    open_binary,
    sniff,
)
from ops_pipelines.lib.ingest.quarantine import (
    Reason,
    empty_quarantine,
    quarantine_frame,
)

Rows = tuple[pd.DataFrame, pd.DataFrame]


def csv_header(path: Path) -> list[str]:
    """Normalised column names from the first line of a CSV file."""
    sniff(path)
    with open_binary(path) as fh:
        first = fh.readline().decode("utf-8", errors="replace")
    header = next(csv.reader(io.StringIO(first)), [])
    if not header or not any(h.strip() for h in header):
        raise UnreadableFileError(path, "no CSV header line")
    return [h.strip().lower() for h in header]


def read_csv(path: Path, dictionary_columns: Sequence[str] = (), arrow_columns: Sequence[str] = ()) -> Rows:
    """All fields as strings via Arrow's multithreaded parser.

    `dictionary_columns` come back categorical (cheap for repeated names and timestamps),
    `arrow_columns` as Arrow-backed strings (parsed in Arrow later), the rest as objects.
    """
    header = csv_header(path)
    if len(set(header)) != len(header):
        raise UnreadableFileError(path, f"duplicate column names in header {header}")
    table, bad = _arrow_csv(path, header, use_threads=True)
    if bad:  # Arrow reports line numbers of bad rows only when parsing single-threaded.
        table, bad = _arrow_csv(path, header, use_threads=False)
    columns = {}
    for name in header:
        col = table[name]
        if name in dictionary_columns:
            columns[name] = col.dictionary_encode().to_pandas()
        elif name in arrow_columns:
            columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(col))
        else:
            columns[name] = col.to_pandas()
    rows = pd.DataFrame(columns)
    rows["_line"] = _line_numbers(len(rows), [b[0] for b in bad])
    blank = np.logical_and.reduce([_is_empty(table[n]) for n in header])
    rows = rows[~blank]
    quarantine = quarantine_frame(
        str(path), [b[0] for b in bad], Reason.UNPARSEABLE_ROW.value,
        [f"expected {len(header)} fields, found {b[2]}" for b in bad], [b[1] for b in bad],
    )
    return rows, quarantine


def _is_empty(col: pa.ChunkedArray) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.fill_null(pc.equal(col, ""), True).to_numpy(zero_copy_only=False)


def _arrow_csv(path: Path, header: list[str], use_threads: bool) -> tuple[pa.Table, list[tuple[int, str, int]]]:
    import pyarrow.csv as pacsv

    bad: list[tuple[int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number if row.number is not None else -1, row.text, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, skip_rows=1, column_names=header),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise UnreadableFileError(path, _arrow_problem(exc)) from None
    return table, bad


def _arrow_problem(exc: Exception) -> str:
    text = str(exc)
    if "UTF8" in text or "utf8" in text.lower():
        return "not UTF-8 text"
    if "gzip" in text.lower() or "compress" in text.lower() or isinstance(exc, EOFError):
        return f"corrupt or truncated gzip: {text.splitlines()[0]}"
    return text.splitlines()[0] if text else type(exc).__name__


def _line_numbers(n_rows: int, bad_lines: list[int]) -> np.ndarray:
    """Physical line of each parsed row, skipping the header and the rows Arrow rejected."""
    shifted = np.sort(np.asarray(bad_lines, dtype=np.int64)) - 2 - np.arange(len(bad_lines))
    idx = np.arange(n_rows, dtype=np.int64)
    return idx + 2 + np.searchsorted(shifted, idx, side="right")


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
    rows = table.to_pandas(types_mapper={pa.float64(): pd.Float64Dtype(), pa.float32(): pd.Float64Dtype()}.get)
    rows["_line"] = np.arange(1, len(rows) + 1)
    return rows, empty_quarantine()


def read_jsonl(path: Path, columns: Sequence[str]) -> Rows:
    """JSON Lines: one object per line; other lines are quarantined as unparseable."""

    def parse(text: str) -> dict | str:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"invalid JSON: {exc.msg} at column {exc.colno}"
        if not isinstance(record, dict):
            return f"expected a JSON object, found {type(record).__name__}"
        return {str(k).lower(): v for k, v in record.items()}

    return _read_lines(path, columns, parse)


def read_regex_lines(path: Path, pattern: str) -> Rows:
    """Plain-text lines split by a regex with named groups; non-matching lines are quarantined."""
    regex = re.compile(pattern)

    def parse(text: str) -> dict | str:
        match = regex.match(text)
        return match.groupdict() if match else "line does not match the log pattern"

    return _read_lines(path, list(regex.groupindex), parse)


def _read_lines(path: Path, columns: Sequence[str], parse: Callable[[str], dict | str]) -> Rows:
    """Rows from a line-oriented text file; `parse` gives a record or the reason it cannot."""
    sniff(path)
    data: dict[str, list] = {c: [] for c in columns}
    lines, bad = [], []
    for number, text in iter_text_lines(path):
        if not text.strip():
            continue
        record = parse(text)
        if isinstance(record, str):
            bad.append((number, record, text))
            continue
        for c in columns:
            data[c].append(record.get(c))
        lines.append(number)
    rows = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
    rows["_line"] = np.asarray(lines, dtype=np.int64)
    return rows, _unparseable(path, bad)


def _unparseable(path: Path, bad: list[tuple[int, str, str]]) -> pd.DataFrame:
    return quarantine_frame(
        str(path), [b[0] for b in bad], Reason.UNPARSEABLE_ROW.value, [b[1] for b in bad], [b[2][:500] for b in bad]
    )


def read_json_document(path: Path, parse: Callable[[object], Rows]) -> Rows:
    """A whole-file JSON document handed to `parse`; an invalid document is one file error."""
    sniff(path)
    try:
        with open_binary(path) as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(path, f"invalid JSON document: {exc.msg} at line {exc.lineno}") from None
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise UnreadableFileError(path, f"cannot decode file: {exc}") from None
    return parse(doc)
