"""CSV files: one multithreaded Arrow pass for clean files, line by line for the others.

A clean file (valid UTF-8, no lone CR, no line over the limit, every quote closed on its line)
is parsed in one pass, as fast as before. Any other file is first copied line by line, without
its bad lines (quarantined: `invalid_utf8`, `line_too_long`, a quote left open), then parsed:
one bad line costs that line, never the file.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ops_pipelines.lib.ingest.files import (
    RAW_CHARS,
    BadLine,
    UnreadableFileError,
    bounded_lines,
    count_csv_lines,
    decode_line,
    open_binary,
    scan_text,
    sniff,
)
from ops_pipelines.lib.ingest.formats import DEFAULT_MAX_LINE_BYTES
from ops_pipelines.lib.ingest.quarantine import Reason, empty_quarantine, quarantine_frame

Rows = tuple[pd.DataFrame, pd.DataFrame]


def csv_header(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[str]:
    """Normalised column names from the first line of a CSV file."""
    sniff(path)
    with open_binary(path) as fh:
        first = next(bounded_lines(fh, max_line_bytes), b"")
    if isinstance(first, BadLine):
        raise UnreadableFileError(path, f"header: {first.detail}")
    first = first.rstrip(b"\n").split(b"\r")[0]  # a lone CR ends a CSV line too
    first = first.decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        header = next(csv.reader([first]), [])
    except csv.Error as exc:
        raise UnreadableFileError(path, f"unreadable CSV header: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise UnreadableFileError(path, "no CSV header line")
    return [h.strip().lower() for h in header]


def read_csv(
    path: Path,
    dictionary_columns: Sequence[str] = (),
    arrow_columns: Sequence[str] = (),
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Rows:
    """All fields as strings via Arrow's multithreaded parser.

    `dictionary_columns` come back categorical (cheap for repeated names and timestamps; Arrow encodes
    them while it parses, so the file's text of those columns is never held whole),
    `arrow_columns` as Arrow-backed strings (parsed in Arrow later), the rest as objects.
    A file that is valid UTF-8 with no line over `max_line_bytes` is parsed in one pass; any other
    goes line by line first (`_clean_lines`), so a bad line is quarantined and the rest kept.
    """
    header = csv_header(path, max_line_bytes)
    if len(set(header)) != len(header):
        raise UnreadableFileError(path, f"duplicate column names in header {header}")
    try:
        table, bad = _parse_in_one_pass(path, header, max_line_bytes, dictionary_columns)
        source_line, early = None, empty_quarantine()
    except (_NeedsLines, pa.ArrowInvalid):
        cleaned, source_line, early = _clean_lines(path, max_line_bytes)
        with cleaned:
            table, bad = _arrow_csv(cleaned, header, False, max_line_bytes, dictionary_columns)
    columns = {}
    for name in header:
        col = table[name]
        if name in dictionary_columns:  # one category list for the whole file, in order of first appearance
            columns[name] = col.to_pandas()
        elif name in arrow_columns:
            columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(col))
        else:
            columns[name] = col.to_pandas()
    rows = pd.DataFrame(columns)
    rows["_line"] = _line_numbers(len(rows), [b[0] for b in bad])
    bad_lines = [b[0] for b in bad]
    if source_line is not None:  # lines of the cleaned copy -> lines of the file
        rows["_line"] = _map_lines(rows["_line"].to_numpy(), source_line)
        bad_lines = _map_lines(np.asarray(bad_lines, dtype=np.int64), source_line).tolist()
    blank = np.logical_and.reduce([_is_empty(table[n]) for n in header])
    rows = rows[~blank]
    del table
    pa.default_memory_pool().release_unused()  # the parsed text's pages, which Arrow's pool would keep for later
    quarantine = quarantine_frame(
        str(path), bad_lines, Reason.UNPARSEABLE_ROW.value,
        [f"expected {len(header)} fields, found {b[2]}" for b in bad], [b[1][:RAW_CHARS] for b in bad],
    )
    return rows, pd.concat([early, quarantine], ignore_index=True) if len(early) else quarantine


class _NeedsLines(Exception):
    """The file's lines are not what a one-pass parse would see: go line by line."""


def _parse_in_one_pass(path: Path, header: list[str], max_line_bytes: int,
                       dictionary_columns: Sequence[str]) -> tuple[pa.Table, list[tuple[int, str, int]]]:
    """Arrow's multithreaded parse, for a file whose parsed rows are exactly its lines.

    Raises _NeedsLines for invalid UTF-8, a lone CR (the parser's lines are not the file's), a
    line over the limit, or a quote left open (it swallows the lines after it, silently).
    """
    scan = scan_text(path)
    if not scan.valid_utf8 or scan.has_lone_cr:
        raise _NeedsLines
    table, bad = _arrow_csv(path, header, True, max_line_bytes, dictionary_columns)
    if bad:  # Arrow reports line numbers of bad rows only when parsing single-threaded.
        table, bad = _arrow_csv(path, header, False, max_line_bytes, dictionary_columns)
    longest_bad = max((len(b[1].encode()) for b in bad), default=0)
    if max(_longest_row_bound(table, header), longest_bad) > max_line_bytes or any("\n" in b[1] for b in bad):
        raise _NeedsLines
    # Only a file with a quote can have fewer rows than lines (a quoted value across lines).
    if scan.has_quote and count_csv_lines(path) != 1 + table.num_rows + len(bad):
        raise _NeedsLines
    return table, bad


def _longest_row_bound(table: pa.Table, header: list[str]) -> int:
    """An upper bound of the longest line's bytes from its fields (quotes can double a field)."""
    import pyarrow.compute as pc

    def longest(col: pa.ChunkedArray) -> int:
        if pa.types.is_dictionary(col.type):  # a chunk's dictionary holds exactly the values of its rows
            return max((int(pc.max(pc.binary_length(c.dictionary)).as_py() or 0) for c in col.chunks), default=0)
        return int(pc.max(pc.binary_length(col)).as_py() or 0)

    return 2 * sum(longest(table[n]) for n in header) + 3 * len(header)


def _clean_lines(path: Path, max_line_bytes: int) -> tuple[io.BufferedIOBase, np.ndarray, pd.DataFrame]:
    """Copy the file's good lines to a spooled temp file; quarantine the others.

    Lines end at \\n, \\r\\n or a lone \\r, as for the CSV parser. A line is quarantined when it is
    too long, not UTF-8, or leaves a quoted field open (CSV values never span lines here, so one
    stray quote cannot swallow the rest of the file). Returns the copy (rewound), each copied
    line's line number in the file, and the quarantine.
    """
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=64 << 20)
    kept: list[int] = []
    bad: list[tuple[int, BadLine]] = []
    number = 0
    try:
        with open_binary(path) as fh:
            for raw in bounded_lines(fh, max_line_bytes):
                if isinstance(raw, BadLine):
                    number += 1
                    bad.append((number, raw))
                    continue
                body = raw.removesuffix(b"\n")
                for piece in (body[:-1] if body.endswith(b"\r") else body).split(b"\r"):
                    number += 1
                    problem = None if number == 1 else _line_problem(piece)  # csv_header checked line 1
                    if problem:
                        bad.append((number, problem))
                    else:
                        out.write(piece + b"\n")
                        kept.append(number)
    except (OSError, EOFError, zlib.error) as exc:
        out.close()
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
    out.seek(0)
    quarantine = quarantine_frame(
        str(path), [n for n, _ in bad], [b.reason.value for _, b in bad], [b.detail for _, b in bad], [b.raw for _, b in bad]
    )
    return out, np.asarray(kept, dtype=np.int64), quarantine


def _line_problem(line: bytes) -> BadLine | None:
    text = decode_line(line)
    if isinstance(text, BadLine):
        return text
    if '"' in text and _leaves_quote_open(text):
        return BadLine(Reason.UNPARSEABLE_ROW, "a quoted field is not closed on its line (CSV values cannot span lines)", text[:RAW_CHARS])
    return None


def _leaves_quote_open(line: str) -> bool:
    """Whether a CSV line ends inside a quoted field (a quote opens a field only at its start)."""
    i, n = 0, len(line)
    while i < n:
        if line[i] == '"':
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    return True
                if line[k + 1 : k + 2] == '"':  # "" is an escaped quote
                    j = k + 2
                    continue
                i = k + 1
                break
        k = line.find(",", i)
        if k < 0:
            return False
        i = k + 1
    return False


def _map_lines(lines: np.ndarray, source_line: np.ndarray) -> np.ndarray:
    """Line numbers in the cleaned copy -> in the file (a line Arrow split further keeps its place)."""
    if not len(source_line):
        return np.asarray(lines, dtype=np.int64)
    idx = np.clip(np.asarray(lines, dtype=np.int64) - 1, 0, len(source_line) - 1)
    return source_line[idx]


def _is_empty(col: pa.ChunkedArray) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.fill_null(pc.equal(col, ""), True).to_numpy(zero_copy_only=False)


def _arrow_csv(
    source: Path | io.BufferedIOBase, header: list[str], use_threads: bool, max_line_bytes: int,
    dictionary_columns: Sequence[str],
) -> tuple[pa.Table, list[tuple[int, str, int]]]:
    import pyarrow.csv as pacsv

    path = source if isinstance(source, Path) else Path("<cleaned copy>")
    if not isinstance(source, Path):
        source.seek(0)
    # A row up to about twice the block size parses; longer ones fail as "straddling". The block
    # is at least the line limit so every allowed line parses in the line-by-line pass.
    block_size = max(1 << 20, max_line_bytes + 1024)

    bad: list[tuple[int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number if row.number is not None else -1, row.text, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            str(source) if isinstance(source, Path) else source,
            read_options=pacsv.ReadOptions(use_threads=use_threads, skip_rows=1, column_names=header, block_size=block_size),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.dictionary(pa.int32(), pa.string()) if h in dictionary_columns else pa.string()
                              for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        if isinstance(source, Path) and isinstance(exc, pa.ArrowInvalid):
            raise _NeedsLines from None  # invalid UTF-8, a runaway line, quotes out of sync: go line by line
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
