"""Where `ops-pipelines detect` writes each input's scores: the input paths mirrored under the
output folder, never two inputs onto one file and never over an earlier output unless asked.

One folder: its tree is mirrored (`detect nab/data --output out` writes out/<category>/<file>.csv).
One file: out/<file name>. Several files or folders: each path relative to their common parent
(`detect a/cpu.csv b/cpu.csv` writes out/a/cpu.csv and out/b/cpu.csv).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class UsageError(ValueError):
    """The command as given cannot run (no such input, outputs would collide or be overwritten)."""


@dataclass(frozen=True)
class Job:
    """One input file and the output file its scores go to."""

    source: Path  # as the user named it (the given path, or the given folder joined with the file)
    target: Path


def _common_base(items: list[Path]) -> Path:
    # a folder is its own root, a file its folder: one folder (or files of one folder) maps as it is
    roots = list(dict.fromkeys(p if p.is_dir() else p.parent for p in items))
    try:
        return Path(os.path.commonpath(roots))
    except ValueError:  # different drives: nothing in common to mirror from
        raise UsageError("inputs on different drives; score them in separate runs") from None


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sources(given: str | Path, item: Path, output: Path) -> list[tuple[Path, Path]]:
    """(path as the user named it, absolute path) of every CSV file the input stands for."""
    if not item.is_dir():
        return [(Path(given), item)]
    # an output folder inside the input folder holds our own results: never score them again
    found = [p for p in sorted(item.rglob("*.csv")) if p.is_file() and not _is_under(p, output)]
    if not found:
        raise UsageError(f"{given}: no .csv files in this folder")
    return [(Path(given) / p.relative_to(item), p) for p in found]


def plan_outputs(inputs: Iterable[str | Path], output: str | Path, *, overwrite: bool = False) -> list[Job]:
    """Every (input file, output file) pair, checked before anything is written; raises UsageError.

    The same file named twice (directly or through a folder) is scored once. Two inputs mapped to
    one output, an output that is one of the inputs, and (without `overwrite`) outputs that exist
    already are refused, naming the files.
    """
    given = list(inputs)
    if not given:
        raise UsageError("no input given")
    items = [Path(os.path.abspath(p)) for p in given]
    missing = [str(g) for g, p in zip(given, items) if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    out = Path(os.path.abspath(output))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {output} is a file, not a folder")
    base = _common_base(items)

    jobs: list[Job] = []
    sources: set[Path] = set()
    by_target: dict[Path, Path] = {}  # resolved output -> the input going there
    for name, item in zip(given, items):
        for shown, path in _sources(name, item, out):
            if path.resolve() in sources:
                continue
            sources.add(path.resolve())
            target = out / path.relative_to(base)
            # mirrored paths are distinct, but a symlink inside the output folder can still join two
            key = target.resolve()
            if key in by_target:
                raise UsageError(f"{by_target[key]} and {shown} would both be written to {key}; "
                                 "score them in separate runs")
            by_target[key] = shown
            jobs.append(Job(shown, target))

    for job in jobs:
        if job.target.resolve() in sources:
            raise UsageError(f"{job.source}: its output {job.target} is an input file; choose another --output")
    if not overwrite:
        existing = [job.target for job in jobs if job.target.exists()]
        if existing:
            raise UsageError(f"{len(existing)} output file(s) exist already, first {existing[0]}; pass --overwrite "
                             "to replace the files this run scores, or choose an empty --output folder")
    return jobs
