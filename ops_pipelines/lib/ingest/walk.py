"""Listing a landing-zone folder without trusting it.

A file whose name is not UTF-8, a symlink that leads out of the landing zone, or anything that is
not a regular file becomes a refused entry: it is quarantined with a reason and never opened
(a symlink's target is not even stat-ed). Symlinks that stay inside the landing zone are followed
like the file or folder they point to: the data is already the zone's, and staging by link is
common; a folder reached twice (a link loop) is listed once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ops_pipelines.lib.ingest.quarantine import Reason, safe_text

IGNORED_PREFIXES = (".", "_", "~")  # hidden files and writers' work files
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload")


@dataclass(frozen=True)
class Entry:
    """One landing-zone file: where to open it, its printable name, and why it is refused, if it is."""

    path: Path
    name: str  # relative to the landing-zone root, '/'-separated; bytes that are not UTF-8 as \xNN
    refused: Reason | None = None
    problem: str = ""


def is_ignored(name: str) -> bool:
    """Hidden, temporary and partial files that writers leave while they work."""
    return name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES)


def printable_name(path: Path, root: Path) -> str:
    return safe_text(path.relative_to(root).as_posix())


def _inside(path: Path | str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def list_files(root: Path, top: Path) -> list[Entry]:
    """Every data file under `top` (a folder of the landing zone `root`), sorted by name."""
    root_real = os.path.realpath(root)
    if not os.path.lexists(top):
        return []
    if not _inside(top, root_real):
        return [_refuse(top, root, Reason.SYMLINK_OUTSIDE_LANDING_ZONE, "the folder is a symlink that leads outside the landing zone; not followed")]
    if not top.is_dir():
        return []
    return sorted(_walk(top, root, root_real, {os.path.realpath(top)}), key=lambda e: e.name)


def _walk(folder: Path, root: Path, root_real: str, seen: set[str]) -> Iterator[Entry]:
    try:
        children = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield _refuse(folder, root, Reason.UNREADABLE_FILE, f"cannot list the folder: {exc.strerror}")
        return
    for child in children:
        path = Path(child.path)
        if child.is_symlink() and not _inside(path, root_real):
            if not is_ignored(child.name):
                yield _refuse(path, root, Reason.SYMLINK_OUTSIDE_LANDING_ZONE, "symlink that leads outside the landing zone; not followed")
            continue
        if child.is_dir():  # follows links that stay inside the zone
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                yield from _walk(path, root, root_real, seen)
            continue
        if is_ignored(child.name):
            continue
        if not child.is_file():
            broken = child.is_symlink() and not os.path.exists(path)
            problem = "broken symlink (its target does not exist)" if broken else "not a regular file (a pipe, socket or device is never opened)"
            yield _refuse(path, root, Reason.UNREADABLE_FILE, problem)
        elif not _is_utf8(path.relative_to(root).as_posix()):
            yield _refuse(path, root, Reason.UNREADABLE_FILE_NAME, "file name is not UTF-8 (shown with \\x escapes); rename the file to ingest it")
        else:
            yield Entry(path, printable_name(path, root))


def _refuse(path: Path, root: Path, reason: Reason, problem: str) -> Entry:
    return Entry(path, printable_name(path, root), reason, problem)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
