"""Which landing-zone partitions changed between two scans (logic of the landing-zone sensor)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ops_pipelines.lib.ingest.landing import LandedFile


@dataclass(frozen=True)
class PartitionChange:
    kind: str
    day: str
    files: tuple[str, ...]  # the new or changed files
    run_key: str  # stable for the same set of file versions


def changed_partitions(seen: Mapping[str, str], files: Iterable[LandedFile]) -> list[PartitionChange]:
    """Group new or changed files by (kind, day); `seen` maps relpath -> version of the last scan."""
    groups: dict[tuple[str, str], list[LandedFile]] = {}
    for f in files:
        if seen.get(f.relpath) != f.version:
            groups.setdefault((f.kind, f.day), []).append(f)
    changes = []
    for (kind, day), group in sorted(groups.items()):
        digest = hashlib.sha256("\n".join(f"{f.relpath}@{f.version}" for f in group).encode()).hexdigest()[:16]
        changes.append(PartitionChange(kind, day, tuple(f.relpath for f in group), f"{kind}:{day}:{digest}"))
    return changes
