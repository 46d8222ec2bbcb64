"""Which carried state each day was computed from, so a re-run of an earlier day names the later days it made stale.

Stateful assets (detectors, the incident context, the drift streak) continue each day from a state file of an
earlier day in the state store (`<root>/<folder>/<day>.<ext>`). Next to each day's state we record what it was
computed from: per carried folder the day and the SHA-256 of that state file at the time. A day is stale when
the state it continued from has changed since (that day was re-run on other input), has gone, or a state file
now exists for a day it would have continued from instead (a gap was filled later), or when it continued from
a stale day. State files are written deterministically, so re-running a day on the same input leaves the
later days current.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ops_pipelines.lib.files import atomic_write_text

LINEAGE_DIR = "_lineage"  # <root>/_lineage/<folder>/<day>.json: kept apart so state globs never see it
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Carried:
    """One carried state a day continued from."""

    folder: str  # state-store folder the state came from
    day: str | None  # the day whose state was carried; None: cold start
    file: str | None  # its file name in the folder
    sha256: str | None  # its digest when it was carried
    since: str  # a state of a day after `since` (exclusive) and before the carrying day would be carried now ("" = any)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def state_files(root: Path, folder: str) -> dict[str, Path]:
    """The state files of a folder by day (temp files of an unfinished write are hidden: never counted)."""
    base = Path(root, folder)
    if not base.is_dir():
        return {}
    found = {}
    for path in base.iterdir():
        day = path.name.split(".", 1)[0]
        if path.is_file() and not path.name.startswith(".") and _DAY.match(day):
            found[day] = path
    return found


def carried(folder: str, path: Path | None, since: str | None = None) -> Carried:
    """The record of carrying `path` (a state file of `folder`, or None for a cold start). `since`: the earliest
    exclusive bound of days that could have been carried; default: the carried day itself (latest-before
    semantics: any later state would have been chosen instead)."""
    if path is None:
        return Carried(folder, None, None, None, since or "")
    day = path.name.split(".", 1)[0]
    return Carried(folder, day, path.name, file_digest(path), day if since is None else since)


def write_lineage(root: Path, folder: str, day: str, sources: Iterable[Carried]) -> None:
    """Record what `folder`'s state of `day` was computed from (atomically; replaces an earlier record)."""
    record = {"folder": folder, "day": day, "carried": [asdict(c) for c in sources]}
    atomic_write_text(Path(root, LINEAGE_DIR, folder, f"{day}.json"), json.dumps(record, indent=1, sort_keys=True) + "\n")


def read_lineage(root: Path, folder: str, day: str) -> list[Carried] | None:
    """What the state of `day` was computed from; None when nothing was recorded (state written before lineage)."""
    path = Path(root, LINEAGE_DIR, folder, f"{day}.json")
    if not path.exists():
        return None
    return [Carried(**c) for c in json.loads(path.read_text(encoding="utf-8"))["carried"]]


class _Staleness:
    """Memoised staleness of (folder, day) over a state root."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.files: dict[str, dict[str, Path]] = {}
        self.memo: dict[tuple[str, str], str] = {}

    def days(self, folder: str) -> dict[str, Path]:
        if folder not in self.files:
            self.files[folder] = state_files(self.root, folder)
        return self.files[folder]

    def reason(self, folder: str, day: str) -> str:
        """Why the state of `day` is stale, or "" when it is current (or its lineage is unknown)."""
        key = (folder, day)
        if key not in self.memo:
            self.memo[key] = ""  # a cycle cannot happen (days only look back), but never recurse twice
            self.memo[key] = self._reason(folder, day)
        return self.memo[key]

    def _reason(self, folder: str, day: str) -> str:
        for c in read_lineage(self.root, folder, day) or []:
            files = self.days(c.folder)
            between = sorted(d for d in files if max(c.since, c.day or "") < d < day and d != c.day)
            if between:
                return f"{c.folder} now has state for {between[-1]}, which it did not continue from"
            if c.day is None:
                continue
            now = files.get(c.day)
            if now is None or now.name != c.file:
                return f"the {c.folder} state of {c.day} it continued from is gone"
            if file_digest(now) != c.sha256:
                return f"it continued from {c.folder} {c.day}, which was recomputed since"
            upstream = self.reason(c.folder, c.day)
            if upstream:
                return f"it continued from {c.folder} {c.day}, which is stale"
        return ""


def stale_days(root: Path, folders: Iterable[str], after: str = "") -> dict[str, dict[str, str]]:
    """Per folder, the stale days after `after` (exclusive) with the reason; folders without any are left out."""
    check = _Staleness(root)
    out: dict[str, dict[str, str]] = {}
    for folder in folders:
        found = {d: check.reason(folder, d) for d in sorted(check.days(folder)) if d > after}
        found = {d: why for d, why in found.items() if why}
        if found:
            out[folder] = found
    return out


def day_reason(root: Path, folder: str, day: str) -> str:
    """Why `folder`'s state of `day` is stale ("" when current)."""
    return _Staleness(root).reason(folder, day)
