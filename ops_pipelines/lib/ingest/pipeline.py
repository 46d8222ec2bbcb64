"""Ingest one partition: read every file, validate, merge; one bad file never stops the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest.files import UnreadableFileError
from ops_pipelines.lib.ingest.quarantine import Reason, quarantine_frame
from ops_pipelines.lib.ingest.validate import (
    FileError,
    IngestResult,
    Schema,
    Window,
    finalize,
    validate_rows,
)

Reader = Callable[[Path], tuple[pd.DataFrame, pd.DataFrame]]


def ingest_files(
    files: Sequence[Path],
    read: Reader,
    schema: Schema,
    window: Window,
    naive_timezone: str | None = None,
    label: Callable[[Path], str] = str,
) -> IngestResult:
    """Read, validate and merge `files` into one partition's rows and quarantine.

    `label` names a file in quarantine rows and errors (e.g. its path inside the landing zone).
    """
    parts: list[tuple[str, pd.DataFrame]] = []
    quarantines: list[pd.DataFrame] = []
    errors: list[FileError] = []
    for path in sorted(files):
        name = label(path)
        try:
            raw, unparseable = read(path)
        except UnreadableFileError as exc:
            errors.append(FileError(name, exc.problem))
            quarantines.append(quarantine_frame(name, [None], Reason.UNREADABLE_FILE.value, exc.problem))
            continue
        unparseable = unparseable.assign(source_file=name)
        clean, bad = validate_rows(raw, schema, name, naive_timezone)
        parts.append((name, clean))
        quarantines += [unparseable, bad]
    rows, quarantine, exact = finalize(parts, quarantines, schema, window)
    return IngestResult(rows, quarantine, errors, exact, files_read=len(parts))
