"""Atomic file writes: every file we write goes through here, so a reader (or a crash) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> None:
    """Call `write(fh)` on a temp file in the target folder, fsync, set `mode` (mkstemp makes 0600),
    then rename over `path`; on any error the temp file is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    atomic_write(path, lambda fh: fh.write(data), mode)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """UTF-8 with `\\n` line ends, whatever the platform."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)
