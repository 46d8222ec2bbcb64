"""Atomic file writes: every file we write goes through here, so a reader (or a crash) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> None:
    """Call `write(fh)` on a temp file in the target folder, fsync, set `mode` (mkstemp makes 0600),
    then rename over `path`; on any error the temp file is removed and `path` is untouched. A storage error
    (disk full, read-only, no permission) is raised as one OSError naming `path`."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # writers (pyarrow) often drop the file name: say which file could not be written
            raise _naming(exc, path) from exc
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    reason = exc.strerror or str(exc).removeprefix(f"[Errno {exc.errno}] ")
    return OSError(exc.errno, f"cannot write {path}: {reason}") if exc.errno is not None else OSError(f"cannot write {path}: {exc}")


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    atomic_write(path, lambda fh: fh.write(data), mode)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """UTF-8 with `\\n` line ends, whatever the platform."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)
