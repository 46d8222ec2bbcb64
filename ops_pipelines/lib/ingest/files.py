"""Opening landing-zone files: one clear error for a file that cannot be read at all, and lines
decoded one by one so that one bad byte or one runaway line costs only its own line."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ops_pipelines.lib.ingest.quarantine import Reason

SNIFF_BYTES = 1 << 16
RAW_CHARS = 500  # of a quarantined line kept in the `raw` column
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class UnreadableFileError(ValueError):
    """A whole file could not be read; names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class BadLine:
    """A line quarantined before parsing: not UTF-8, or longer than the limit."""

    reason: Reason
    detail: str
    raw: str  # a printable prefix: invalid bytes as \xNN


def is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def base_suffix(path: Path) -> str:
    """The format suffix ignoring compression: `metrics.csv.gz` -> `.csv`."""
    return Path(path.stem).suffix if is_gzip(path) else path.suffix


def sniff(path: Path) -> None:
    """Raise UnreadableFileError for an empty, binary, UTF-16 or corrupt-gzip file.

    Invalid UTF-8 is not a file error: it is found line by line (`invalid_utf8`).
    """
    if not path.exists():
        raise UnreadableFileError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise UnreadableFileError(path, "empty file (0 bytes)")
    try:
        with open_binary(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, *GZIP_ERRORS) as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
    if not head:
        raise UnreadableFileError(path, "empty file (no content after decompression)")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFileError(path, "UTF-16 text; export the file as UTF-8")
    if b"\x00" in head:
        raise UnreadableFileError(path, "binary data (NUL bytes), not a text file")


def open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def printable_bytes(raw: bytes, limit: int = RAW_CHARS) -> str:
    return raw[:limit].decode("utf-8", "backslashreplace")


def bounded_lines(fh: io.BufferedIOBase, max_line_bytes: int) -> Iterator[bytes | BadLine]:
    """Raw lines (newline kept), or a `line_too_long` BadLine; never holds more than the limit."""
    while True:
        line = fh.readline(max_line_bytes + 2)  # room for "\r\n" after a line of exactly the limit
        if not line:
            return
        head = line[:RAW_CHARS]
        if line.endswith(b"\n") or len(line) < max_line_bytes + 2:
            length = len(line.rstrip(b"\r\n"))
            if length <= max_line_bytes:
                yield line
                continue
        else:
            length = len(line)
            while not line.endswith(b"\n"):  # skip the rest of the runaway line in bounded reads
                line = fh.readline(1 << 20)
                if not line:
                    break
                length += len(line.rstrip(b"\r\n"))
        yield BadLine(
            Reason.LINE_TOO_LONG,
            f"line of {length:,} bytes; the limit is {max_line_bytes:,} (LandingZone.max_line_bytes)",
            f"{printable_bytes(head)}... ({length:,} bytes, not kept)",
        )


def decode_line(raw: bytes) -> str | BadLine:
    """One line as text, or an `invalid_utf8` BadLine naming the byte and its column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        return BadLine(Reason.INVALID_UTF8, f"invalid UTF-8 byte 0x{byte:02x} at byte {exc.start + 1} of the line", printable_bytes(raw))


def iter_text_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, str | BadLine]]:
    """Yield (1-based line number, line without newline or the BadLine it is); wraps gzip errors."""
    try:
        with open_binary(path) as fh:
            for number, raw in enumerate(bounded_lines(fh, max_line_bytes), start=1):
                if isinstance(raw, BadLine):
                    yield number, raw
                    continue
                text = decode_line(raw.rstrip(b"\r\n"))
                if number == 1 and isinstance(text, str):
                    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not data
                yield number, text
    except GZIP_ERRORS as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None


@dataclass(frozen=True)
class TextScan:
    valid_utf8: bool
    has_quote: bool  # a double quote anywhere
    has_lone_cr: bool  # a carriage return not followed by a line feed


def scan_text(path: Path, chunk: int = 8 << 20) -> TextScan:
    """What a fast one-pass look at the whole decompressed file can tell about its lines.

    ASCII blocks skip decoding (`isascii` runs at memory speed), and a file without a CR is not
    counted, so a clean file costs one read.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, quote, lone_cr = True, False, False
    last = b""
    try:
        with open_binary(path) as fh:
            while block := fh.read(chunk):
                quote = quote or b'"' in block
                if not lone_cr and (b"\r" in block or last == b"\r"):
                    crlf = block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
                    lone_cr = block.count(b"\r") + (last == b"\r") - (block[-1:] == b"\r") != crlf
                if valid and (not block.isascii() or decoder.getstate()[0]):
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError:
                        valid = False
                last = block[-1:]
        lone_cr = lone_cr or last == b"\r"
        if valid:
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        valid = False
    except GZIP_ERRORS as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
    return TextScan(valid, quote, lone_cr)


def count_csv_lines(path: Path, chunk: int = 8 << 20) -> int:
    """Lines as a CSV parser counts them: ended by \\n, \\r\\n or a lone \\r; a last line without one counts."""
    lf = cr = crlf = 0
    last = b""
    with open_binary(path) as fh:
        while block := fh.read(chunk):
            lf += block.count(b"\n")
            if b"\r" in block:
                cr += block.count(b"\r")
                crlf += block.count(b"\r\n")
            if last == b"\r" and block[:1] == b"\n":
                crlf += 1
            last = block[-1:]
    return lf + cr - crlf + (1 if last not in (b"", b"\n", b"\r") else 0)


def rows_in_unreadable_file(path: Path, header: bool) -> int:
    """How many rows a file that could not be read stands for: its non-blank lines (less a header).

    A file whose lines cannot all be counted (corrupt or truncated gzip) counts at least one row, so a
    whole lost file always shows in the quarantine share; an empty file counts none.
    """
    count, complete = 0, False
    try:
        with open_binary(path) as fh:
            for raw in bounded_lines(fh, 1 << 20):
                if isinstance(raw, BadLine) or raw.strip():
                    count += 1
        complete = True
    except (OSError, *GZIP_ERRORS):
        pass
    if header and count:
        count -= 1
    return count if complete else max(count, 1)
