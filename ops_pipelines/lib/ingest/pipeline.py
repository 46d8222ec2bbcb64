"""Ingest one partition: read every file, validate, merge; one bad file never stops the others.

Every row read is accounted for, per file: rows read = stored + quarantined + exact duplicates.
A file that cannot be read counts as quarantined rows equal to its line count (see `files`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest.files import UnreadableFileError, base_suffix, rows_in_unreadable_file
from ops_pipelines.lib.ingest.formats import DEFAULT_MAX_ABS_VALUE
from ops_pipelines.lib.ingest.quarantine import FILE_REASONS, Reason, quarantine_frame
from ops_pipelines.lib.ingest.shards import rows_in_shard
from ops_pipelines.lib.ingest.validate import (
    ACCOUNT_COLUMNS,
    FileError,
    IngestResult,
    Schema,
    Window,
    finalize,
    validate_rows,
)
from ops_pipelines.lib.ingest.walk import Entry

Reader = Callable[[Path], tuple[pd.DataFrame, pd.DataFrame]]


def ingest_files(
    entries: Sequence[Entry],
    read: Reader,
    schema: Schema,
    window: Window,
    naive_timezone: str | None = None,
    max_abs_value: float = DEFAULT_MAX_ABS_VALUE,
    shard: tuple[int, int] | None = None,
) -> IngestResult:
    """Read, validate and merge the files of `entries` into one partition's rows and quarantine.

    Quarantine rows and errors name a file by `Entry.name` (its printable path in the zone). With `shard`
    (this shard, of how many) only that service shard's rows are validated and kept; rows the reader could
    not parse and files that could not be read are shard 0's (lib/ingest/shards.py joins the shards).
    """
    others_shard = shard is not None and shard[0] != 0
    parts: list[tuple[str, pd.DataFrame]] = []
    quarantines: list[pd.DataFrame] = []
    errors: list[FileError] = []
    read_counts: dict[str, int] = {}
    lost: dict[str, int] = {}  # rows of files that could not be read at all
    problems: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        name = entry.name
        was_read = False
        try:
            if entry.refused:
                raise UnreadableFileError(name, entry.problem)
            raw, unparseable = read(entry.path)
            was_read = True
            keep = None if shard is None else rows_in_shard(raw.get("service"), len(raw), *shard)
            if others_shard:
                unparseable = unparseable.iloc[:0]
            clean, bad = validate_rows(raw, schema, name, naive_timezone, max_abs_value, keep)
        except Exception as exc:  # noqa: BLE001 - one file never stops the partition; named below
            if others_shard and not was_read:
                continue  # shard 0 reports the file
            if others_shard:
                raise  # rows this shard cannot validate fail its step: never lost quietly
            reason = entry.refused or Reason.UNREADABLE_FILE
            problem = exc.problem if isinstance(exc, UnreadableFileError) else f"unexpected {type(exc).__name__}: {str(exc)[:300]}"
            lost[name] = _lost_rows(entry)
            read_counts[name], problems[name] = lost[name], problem
            errors.append(FileError(name, problem))
            detail = f"{problem} ({lost[name]:,} row{'' if lost[name] == 1 else 's'} not ingested)"
            quarantines.append(quarantine_frame(name, [None], reason.value, detail))
            continue
        read_counts[name] = (len(raw) if keep is None else int(keep.sum())) + len(unparseable)
        del raw  # the untyped rows: not held while the partition is merged (a 27M-row file's are about 0.7 GB)
        parts.append((name, clean))
        quarantines += [unparseable.assign(source_file=name), bad]
    files_read = len(parts)
    rows, quarantine, stored, duplicates = finalize(parts, quarantines, schema, window)
    accounts = _accounts(read_counts, stored, quarantine, lost, duplicates, problems)
    return IngestResult(rows, quarantine, errors, sum(duplicates.values()), files_read=files_read, accounts=accounts)


def _lost_rows(entry: Entry) -> int:
    """A refused symlink is never opened: its rows are unknown and it counts as one."""
    if entry.refused == Reason.SYMLINK_OUTSIDE_LANDING_ZONE or not entry.path.is_file():
        return 1
    return rows_in_unreadable_file(entry.path, header=base_suffix(entry.path) == ".csv")


def _accounts(
    read: dict[str, int],
    stored: dict[str, int],
    quarantine: pd.DataFrame,
    lost: dict[str, int],
    duplicates: dict[str, int],
    problems: dict[str, str],
) -> pd.DataFrame:
    """One row per file; a file seen only in outcomes (a bug) shows with zero rows read."""
    row_level = quarantine[~quarantine["reason"].isin([r.value for r in FILE_REASONS])]
    quarantined = Counter(row_level["source_file"].tolist()) + Counter(lost)
    names = sorted(set(read) | set(stored) | set(quarantined) | set(duplicates))
    return pd.DataFrame(
        {
            "source_file": names,
            "rows_read": [read.get(n, 0) for n in names],
            "rows_stored": [stored.get(n, 0) for n in names],
            "rows_quarantined": [quarantined.get(n, 0) for n in names],
            "exact_duplicates": [duplicates.get(n, 0) for n in names],
            "problem": [problems.get(n, "") for n in names],
        },
        columns=ACCOUNT_COLUMNS,
    ).astype({c: "int64" for c in ACCOUNT_COLUMNS[1:5]})
