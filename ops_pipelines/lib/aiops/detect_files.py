"""`ops-pipelines detect`: the detector on single-series `timestamp,value` CSV files (NAB style).

Real exports are messy: rows out of order, timestamps repeated at DST changes, values that are
not numbers. A series is scored in time order and written back in the file's own row order; a
file that cannot be scored at all is reported and the others are still scored.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.detect_paths import Job, UsageError, plan_outputs
from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState, score
from ops_pipelines.lib.files import atomic_write_text

__all__ = ["FileResult", "Job", "SeriesNotes", "UnscorableFile", "detect_file", "detect_files",
           "detect_series", "plan_outputs", "score_series", "UsageError"]

COLUMNS = ["timestamp", "value", "anomaly_score", "is_anomaly"]
# an explicit UTC offset or Z at the end; strings without one are read as UTC
_OFFSET = r"(?:[Zz]|[+-]\d\d:?\d\d)\s*$"


class UnscorableFile(ValueError):
    """The input as a whole cannot be scored (wrong columns, no timestamp or value to use)."""


@dataclass(frozen=True)
class SeriesNotes:
    """What was unusual about one series; all zero for a clean, ordered file."""

    rows: int
    out_of_order: int = 0  # rows that must move for the file to be in time order
    repeated: int = 0  # rows whose timestamp an earlier row already has
    bad_timestamps: int = 0  # rows without a readable timestamp: not scored
    bad_values: int = 0  # rows without a finite number: no point, no score

    def describe(self) -> str | None:
        """One line for the user, or None when there is nothing to say."""
        parts = [
            _count(self.out_of_order, "row", "out of order"),
            _count(self.repeated, "repeated timestamp", ""),
            _count(self.bad_timestamps, "row", "without a readable timestamp (not scored)"),
            _count(self.bad_values, "row", "without a finite number (not scored)"),
        ]
        text = ", ".join(p for p in parts if p)
        if self.out_of_order:
            text += "; scored in time order, written in file order"
        return text or None


def _count(n: int, noun: str, rest: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}{' ' + rest if rest else ''}" if n else ""


def _parse_times(column: pd.Series) -> pd.Series:
    # pandas 2.3 applies the last seen offset to naive strings in a mixed column, so the
    # two kinds are parsed apart (naive ones as UTC, as documented)
    if column.dtype != object:
        return pd.to_datetime(column, utc=True, errors="coerce").dt.as_unit("ns")  # the detector reads ns
    text = column.astype(str)
    aware = text.str.contains(_OFFSET, regex=True)
    out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns, UTC]")
    for mask in (aware, ~aware):
        if mask.any():
            out[mask] = pd.to_datetime(text[mask], utc=True, format="ISO8601", errors="coerce").dt.as_unit("ns")
    return out


def _moved_rows(ts: np.ndarray) -> int:
    """Rows outside the longest run kept in time order: the fewest rows that must move."""
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return 0
    tails: list[int] = []
    for t in ts.tolist():
        i = bisect.bisect_right(tails, t)
        tails[i:i + 1] = [t]
    return len(ts) - len(tails)


def score_series(frame: pd.DataFrame, params: DetectorParams = DetectorParams()) -> tuple[pd.DataFrame, SeriesNotes]:
    """`detect_series` and what was unusual about the series; raises UnscorableFile."""
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        found = ",".join(map(str, frame.columns))[:80]
        raise UnscorableFile(f"missing column(s) {', '.join(sorted(missing))}; the header is {found!r}, "
                             "expected timestamp,value")
    if frame.empty:
        raise UnscorableFile("no data rows")
    stamps = _parse_times(frame["timestamp"])
    timed = stamps.notna().to_numpy()
    if not timed.any():
        raise UnscorableFile("no readable timestamp (expected ISO 8601, e.g. 2015-09-01 13:45:00)")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, np.nan)  # missing/non-finite: no point, no score
    if np.isnan(values[timed]).all():
        raise UnscorableFile("no finite numeric value")

    rows = np.flatnonzero(timed)
    ts = stamps.array.asi8[rows]
    order = np.argsort(ts, kind="stable")  # repeated timestamps keep file order (NAB's DST repeats)
    scored, _ = score(ts[order], values[rows][order][:, None], DetectorState.empty(["series"]), params)
    scores = np.full(len(frame), np.nan)
    scores[rows[order]] = scored[:, 0]

    out = frame[["timestamp", "value"]].copy()
    out["anomaly_score"] = np.round(np.nan_to_num(scores, nan=0.0), 6)
    out["is_anomaly"] = (out["anomaly_score"] >= 0.5).astype(int)
    notes = SeriesNotes(
        rows=len(frame),
        out_of_order=_moved_rows(ts),
        repeated=int(pd.Series(ts).duplicated().sum()),
        bad_timestamps=int((~timed).sum()),
        bad_values=int(np.isnan(values[timed]).sum()),
    )
    return out, notes


def detect_series(frame: pd.DataFrame, params: DetectorParams = DetectorParams()) -> pd.DataFrame:
    """Score one `timestamp,value` frame: rows in the frame's order, scored in time order.

    Naive timestamps are read as UTC; rows without a timestamp or a finite value get score 0.
    Returns `timestamp,value,anomaly_score,is_anomaly`. Raises UnscorableFile (a ValueError).
    """
    return score_series(frame, params)[0]


@dataclass(frozen=True)
class FileResult:
    """One input file's outcome: written with notes, or not written with an error."""

    job: Job
    notes: SeriesNotes | None = None
    error: str | None = None


def read_series(path: Path) -> pd.DataFrame:
    """The file's cells as text (so values are written back as they were); header names trimmed."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UnscorableFile("empty file") from None
    except UnicodeDecodeError:
        raise UnscorableFile("not UTF-8 text") from None
    except pd.errors.ParserError as exc:  # e.g. a row with more fields than the header
        raise UnscorableFile(f"malformed CSV: {str(exc).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def detect_file(job: Job, params: DetectorParams = DetectorParams()) -> FileResult:
    """Score `job.source` into `job.target`; a problem with this file is returned, not raised."""
    try:
        out, notes = score_series(read_series(job.source), params)
        # written whole or not at all: an interrupted run leaves no half file a later run would refuse
        atomic_write_text(job.target, out[COLUMNS].to_csv(index=False, lineterminator="\n"))
    except OSError as exc:
        return FileResult(job, error=exc.strerror or str(exc))
    except ValueError as exc:  # UnscorableFile; any other ValueError is still this file's alone
        text = str(exc).strip()
        return FileResult(job, error=text.splitlines()[0] if text else type(exc).__name__)
    return FileResult(job, notes=notes)


def detect_files(inputs: Iterable[Path], output: Path, *, overwrite: bool = False,
                 params: DetectorParams = DetectorParams()) -> Iterator[FileResult]:
    """Plan every output now (raises UsageError before anything is written), then score file by
    file as the result is iterated."""
    jobs = plan_outputs(inputs, output, overwrite=overwrite)
    return (detect_file(job, params) for job in jobs)
