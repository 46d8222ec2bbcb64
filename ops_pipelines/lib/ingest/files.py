"""Opening landing-zone files: one clear error for a file that cannot be read at all."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

SNIFF_BYTES = 1 << 16


class UnreadableFileError(ValueError):
    """A whole file could not be read; names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def base_suffix(path: Path) -> str:
    """The format suffix ignoring compression: `metrics.csv.gz` -> `.csv`."""
    return Path(path.stem).suffix if is_gzip(path) else path.suffix


def sniff(path: Path) -> None:
    """Raise UnreadableFileError for an empty, binary, corrupt-gzip or non-UTF-8 text file."""
    if not path.exists():
        raise UnreadableFileError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise UnreadableFileError(path, "empty file (0 bytes)")
    try:
        with open_binary(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
    if not head:
        raise UnreadableFileError(path, "empty file (no content after decompression)")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFileError(path, "UTF-16 text; export the file as UTF-8")
    if b"\x00" in head:
        raise UnreadableFileError(path, "binary data (NUL bytes), not a text file")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def iter_text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without newline); wraps decode/gzip errors."""
    try:
        with open_binary(path) as fh, io.TextIOWrapper(fh, encoding="utf-8", newline="") as text:
            for number, line in enumerate(text, start=1):
                yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text ({exc.reason})") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UnreadableFileError(path, f"corrupt or truncated gzip: {exc}") from None
