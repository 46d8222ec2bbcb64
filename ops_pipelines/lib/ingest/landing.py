"""The landing zone: `<root>/<kind>/<YYYY-MM-DD>/<any files>`; the folder date is the partition."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest import kinds
from ops_pipelines.lib.ingest.pipeline import ingest_files
from ops_pipelines.lib.ingest.validate import IngestResult, Window
from ops_pipelines.lib.ingest.walk import Entry, list_files
from ops_pipelines.lib.partition_range import is_day

KINDS = ("metrics", "logs", "llm_traces", "model_events", "changes")
SCHEMAS = {"metrics": kinds.METRICS, "logs": kinds.LOGS, "llm_traces": kinds.LLM_TRACES,
           "model_events": kinds.MODEL_EVENTS, "changes": kinds.CHANGES}


@dataclass(frozen=True)
class LandedFile:
    kind: str
    day: str
    relpath: str  # relative to the landing-zone root, '/'-separated, printable (bytes not UTF-8 as \xNN)
    version: str  # size and modification time: a rewrite with new content is a new version


def scan(root: Path) -> Iterator[LandedFile]:
    """Every data file in the landing zone with its partition and version, in a stable order.

    Refused files (a name that is not UTF-8, a symlink out of the zone) are listed too, so their
    partition runs and quarantines them; a symlink's version is its own (lstat), never its
    target's. A file that vanishes while we look is left to the next scan.
    """
    for kind in KINDS:
        base = root / kind
        if not base.is_dir():
            continue
        for day_dir in sorted(p for p in base.iterdir() if p.is_dir() and is_day(p.name)):
            for entry in list_files(root, day_dir):
                try:
                    st = os.lstat(entry.path) if entry.refused else entry.path.stat()
                except OSError:
                    continue
                yield LandedFile(kind, day_dir.name, entry.name, f"{st.st_size}-{st.st_mtime_ns}")


def partition_files(root: Path, kind: str, day: str) -> list[Entry]:
    """The files of one kind and day, refused ones included (see `walk`)."""
    return list_files(root, root / kind / day)


def ingest_partition(
    kind: str,
    root: Path,
    day: str,
    options: kinds.FormatOptions = kinds.FormatOptions(),
    now: pd.Timestamp | None = None,
    shard: tuple[int, int] | None = None,
) -> IngestResult:
    """Ingest every file of one kind and day (of one service shard: `ingest_files`); quarantine rows carry paths
    relative to `root`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    day_root = root / kind / day
    readers = {
        "metrics": functools.partial(kinds.read_metrics_file, day_root=day_root, options=options),
        "logs": functools.partial(kinds.read_logs_file, options=options),
        "llm_traces": functools.partial(kinds.read_llm_traces_file, options=options),
        "model_events": functools.partial(kinds.read_model_events_file, options=options),
        "changes": functools.partial(kinds.read_changes_file, options=options),
    }
    return ingest_files(
        partition_files(root, kind, day),
        readers[kind],
        SCHEMAS[kind],
        Window.for_day(day, now),
        options.naive_timezone,
        options.max_abs_value,
        shard,
    )
