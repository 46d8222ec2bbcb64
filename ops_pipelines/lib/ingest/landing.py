"""The landing zone: `<root>/<kind>/<YYYY-MM-DD>/<any files>`; the folder date is the partition."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest import kinds
from ops_pipelines.lib.ingest.pipeline import ingest_files
from ops_pipelines.lib.ingest.validate import IngestResult, Window

KINDS = ("metrics", "logs", "llm_traces", "model_events", "changes")


@dataclass(frozen=True)
class LandedFile:
    kind: str
    day: str
    relpath: str  # relative to the landing-zone root, '/'-separated
    version: str  # size and modification time: a rewrite with new content is a new version


def is_data_file(path: Path) -> bool:
    """Skip hidden, temporary and partial files that writers leave while they work."""
    name = path.name
    return path.is_file() and not name.startswith((".", "_", "~")) and not name.endswith((".tmp", ".part", ".crdownload"))


def _is_day(name: str) -> bool:
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def scan(root: Path) -> Iterator[LandedFile]:
    """Every data file in the landing zone with its partition and version, in a stable order."""
    for kind in KINDS:
        base = root / kind
        if not base.is_dir():
            continue
        for day_dir in sorted(p for p in base.iterdir() if p.is_dir() and _is_day(p.name)):
            for path in sorted(day_dir.rglob("*")):
                if is_data_file(path):
                    st = path.stat()
                    yield LandedFile(kind, day_dir.name, path.relative_to(root).as_posix(), f"{st.st_size}-{st.st_mtime_ns}")


def partition_files(root: Path, kind: str, day: str) -> list[Path]:
    day_dir = root / kind / day
    return sorted(p for p in day_dir.rglob("*") if is_data_file(p)) if day_dir.is_dir() else []


def ingest_partition(
    kind: str,
    root: Path,
    day: str,
    options: kinds.FormatOptions = kinds.FormatOptions(),
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Ingest every file of one kind and day; quarantine rows carry paths relative to `root`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    day_root = root / kind / day
    readers = {
        "metrics": (functools.partial(_metrics, day_root=day_root), kinds.METRICS),
        "logs": (functools.partial(kinds.read_logs_file, options=options), kinds.LOGS),
        "llm_traces": (kinds.read_llm_traces_file, kinds.LLM_TRACES),
        "model_events": (kinds.read_model_events_file, kinds.MODEL_EVENTS),
        "changes": (kinds.read_changes_file, kinds.CHANGES),
    }
    read, schema = readers[kind]
    return ingest_files(
        partition_files(root, kind, day),
        read,
        schema,
        Window.for_day(day, now),
        options.naive_timezone,
        label=lambda p: p.relative_to(root).as_posix(),
    )


def _metrics(path: Path, day_root: Path):
    return kinds.read_metrics_file(path, day_root)
