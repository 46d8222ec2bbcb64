"""What incident correlation remembers from earlier days: when each series first appeared (its
warm-up), and the last week's episodes and job runs (what recurs at the same time of day).

Saved per partition as a small zip of JSON (pickle-free, byte-reproducible); the `incidents`
asset continues from the previous day's file, like the detectors do.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.aiops.state_store import write_zip_atomic

EPISODE_HISTORY = ["service", "signal_class", "start"]
JOB_HISTORY = ["service", "start", "end"]


@dataclass
class IncidentContext:
    first_seen: dict[str, pd.Timestamp]
    episodes: pd.DataFrame  # EPISODE_HISTORY
    jobs: pd.DataFrame  # JOB_HISTORY

    @classmethod
    def empty(cls) -> IncidentContext:
        return cls({}, _frame([], EPISODE_HISTORY), _frame([], JOB_HISTORY))

    def updated(self, first_seen: dict[str, pd.Timestamp], episodes: pd.DataFrame, change_windows: pd.DataFrame,
                until: pd.Timestamp, keep: pd.Timedelta = pd.Timedelta(days=8)) -> IncidentContext:
        """This context plus what happened before `until`, keeping only the last `keep`."""
        since = until - keep
        eps = pd.concat([self.episodes, episodes.loc[episodes["start"] < until, EPISODE_HISTORY]], ignore_index=True)
        jobs = change_windows.loc[(change_windows["kind"] == "job") & (change_windows["start"] < until), JOB_HISTORY]
        jobs = pd.concat([self.jobs, jobs], ignore_index=True)
        seen = {k: v for k, v in first_seen.items() if v < until}
        return IncidentContext({**seen, **self.first_seen},
                               _recent(eps, since), _recent(jobs, since))

    def save(self, path: Path) -> None:
        doc = {
            "first_seen": {k: v.isoformat() for k, v in sorted(self.first_seen.items())},
            "episodes": _records(self.episodes), "jobs": _records(self.jobs),
        }
        write_zip_atomic(path, {"context.json": json.dumps(doc, sort_keys=True).encode()})

    @classmethod
    def load(cls, path: Path) -> IncidentContext:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read("context.json"))
        first = {k: pd.Timestamp(v) for k, v in doc["first_seen"].items()}
        return cls(first, _frame(doc["episodes"], EPISODE_HISTORY), _frame(doc["jobs"], JOB_HISTORY))


def _recent(frame: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    keep = frame[frame["start"] >= since].drop_duplicates()
    return keep.sort_values(list(keep.columns), kind="stable").reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (v.isoformat() if isinstance(v, pd.Timestamp) else str(v)) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(records, columns=columns)
    for col in ("start", "end"):
        if col in out:
            out[col] = pd.to_datetime(out[col], utc=True) if len(out) else pd.Series(dtype="datetime64[ns, UTC]")
    for col in ("service", "signal_class"):
        if col in out:
            out[col] = out[col].astype(object)
    return out
