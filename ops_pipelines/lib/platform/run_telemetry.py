"""Our own pipeline runs as metric series the AIOps detector watches like CPU.

Input is plain run records (built from the Dagster instance by the `pipeline_run_telemetry`
asset); output is long-format rows shaped exactly like telemetry: timestamp (UTC, minute),
service, metric, host, value. Everything is keyed by service `ops-pipelines`; `host` is the
job, the step (asset op) or the checked asset.

Per-asset series get one point a day, so the detector can flag them (after its warm-up of
10 points) but the correlation layer treats a lone point as a blip. The two *per-job* ratio
series are what turns a slow run into an incident: they get one point per minute in which
steps finished, each point comparing this run with the job's own recent runs, so a run that
takes five times longer shows as minutes of points around 5 instead of 1 on two series.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SERVICE = "ops-pipelines"
COLUMNS = ["timestamp", "service", "metric", "host", "value"]
TERMINAL = {"SUCCESS", "FAILURE"}  # canceled runs say nothing about how long a run takes
BASELINE_RUNS = 7  # earlier runs of the same job whose step times make the baseline
MIN_BASELINE = 3  # fewer observations: no ratio point (a new step has no "usual" yet)


@dataclass(frozen=True)
class StepRun:
    """One step of a run: key (the asset op), start and end in epoch seconds, status."""

    key: str
    start: float | None
    end: float | None
    succeeded: bool = True


@dataclass(frozen=True)
class PipelineRun:
    """What the telemetry needs of one finished run; times are epoch seconds (UTC by definition)."""

    run_id: str
    job: str
    status: str  # SUCCESS, FAILURE, CANCELED, ...
    start: float | None
    end: float | None
    steps: tuple[StepRun, ...] = ()
    row_counts: tuple[tuple[str, float, float], ...] = ()  # (asset, epoch seconds, rows)
    checks: tuple[tuple[str, float, bool], ...] = ()  # ("asset:check", epoch seconds, passed)


def _finite(*values: float | None) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def usable_runs(runs: Iterable[PipelineRun]) -> tuple[list[PipelineRun], dict[str, int]]:
    """Finished runs with sane times, deduplicated by run id and sorted by start; skip counts by reason."""
    seen: dict[str, PipelineRun] = {}
    skipped = {"not_finished": 0, "bad_times": 0, "duplicate": 0}
    for run in runs:
        if run.status not in TERMINAL:
            skipped["not_finished"] += 1
        elif not _finite(run.start, run.end) or run.end < run.start:
            skipped["bad_times"] += 1
        elif run.run_id in seen:
            skipped["duplicate"] += 1
        else:
            seen[run.run_id] = run
    return sorted(seen.values(), key=lambda r: (r.start, r.run_id)), skipped


def _minute(epoch: float) -> pd.Timestamp:
    return pd.Timestamp(epoch, unit="s", tz="UTC").floor("min")


def _good_steps(run: PipelineRun) -> list[StepRun]:
    steps = [s for s in run.steps if _finite(s.start, s.end) and s.end >= s.start]
    return sorted(steps, key=lambda s: (s.end, s.key))


def run_series(runs: Sequence[PipelineRun], history: Sequence[PipelineRun] = ()) -> pd.DataFrame:
    """Telemetry rows for `runs`; `history` (earlier runs) only feeds the per-job baselines.

    Per run (at its start minute, host = job): run_duration_s, run_failed (0/1).
    Per step (at its end minute, host = step): step_duration_s. Per asset: rows_written.
    Per check evaluation (host = "asset:check"): check_failed (0/1).
    Per job and minute in which steps ended: step_slowdown (median over those steps of duration
    / the step's median duration in the job's previous runs) and run_elapsed_ratio (time since
    run start / the usual time at which those steps had ended).
    Several values for one series and minute are combined (durations: mean, failures: max,
    rows: sum), so the frame has one row per (timestamp, service, metric, host).
    """
    current, _ = usable_runs(runs)
    earlier, _ = usable_runs(history)
    points: list[tuple[pd.Timestamp, str, str, float]] = []
    baseline = _Baseline(earlier)
    for run in current:
        at = _minute(run.start)
        points.append((at, "run_duration_s", run.job, run.end - run.start))
        points.append((at, "run_failed", run.job, float(run.status == "FAILURE")))
        steps = _good_steps(run)
        for step in steps:
            points.append((_minute(step.end), "step_duration_s", step.key, step.end - step.start))
        for asset, when, rows in run.row_counts:
            if _finite(when, rows) and rows >= 0:
                points.append((_minute(when), "rows_written", asset, float(rows)))
        for check, when, passed in run.checks:
            if _finite(when):
                points.append((_minute(when), "check_failed", check, float(not passed)))
        points.extend(baseline.ratios(run, steps))
        baseline.add(run, steps)
    return _combine(points)


class _Baseline:
    """Per job and step, the durations and end offsets of the last BASELINE_RUNS runs."""

    def __init__(self, runs: Sequence[PipelineRun]):
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.offsets: dict[tuple[str, str], list[float]] = {}
        for run in runs:
            self.add(run, _good_steps(run))

    def add(self, run: PipelineRun, steps: list[StepRun]) -> None:
        for step in steps:
            if not step.succeeded:
                continue  # a step that died early is not a usual duration
            for store, value in ((self.durations, step.end - step.start), (self.offsets, step.end - run.start)):
                values = store.setdefault((run.job, step.key), [])
                values.append(value)
                del values[:-BASELINE_RUNS]

    def ratios(self, run: PipelineRun, steps: list[StepRun]) -> list[tuple[pd.Timestamp, str, str, float]]:
        per_minute: dict[pd.Timestamp, tuple[list[float], list[float]]] = {}
        for step in steps:
            durations = self.durations.get((run.job, step.key), [])
            offsets = self.offsets.get((run.job, step.key), [])
            if len(durations) < MIN_BASELINE:
                continue
            # floors: a step that usually takes milliseconds must not make ratios of noise
            slow = (step.end - step.start + 1.0) / (float(np.median(durations)) + 1.0)
            late = (step.end - run.start + 1.0) / (float(np.median(offsets)) + 1.0)
            bucket = per_minute.setdefault(_minute(step.end), ([], []))
            bucket[0].append(slow)
            bucket[1].append(late)
        out = []
        for at, (slow, late) in per_minute.items():
            out.append((at, "step_slowdown", run.job, float(np.median(slow))))
            out.append((at, "run_elapsed_ratio", run.job, float(np.median(late))))
        return out


_COMBINE = {"run_failed": "max", "check_failed": "max", "rows_written": "sum"}


def _combine(points: list[tuple[pd.Timestamp, str, str, float]]) -> pd.DataFrame:
    if not points:
        return empty_series()
    frame = pd.DataFrame(points, columns=["timestamp", "metric", "host", "value"])
    frame = frame[np.isfinite(frame["value"].to_numpy(dtype=float))]
    parts = []
    for metric, group in frame.groupby("metric", sort=True):
        how = _COMBINE.get(str(metric), "mean")
        parts.append(group.groupby(["timestamp", "metric", "host"], sort=True, as_index=False)["value"].agg(how))
    out = pd.concat(parts, ignore_index=True).assign(service=SERVICE)[COLUMNS]
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    out["value"] = out["value"].astype(float)
    for col in ("service", "metric", "host"):
        out[col] = out[col].astype(str).astype("category")
    return out.sort_values(["service", "metric", "host", "timestamp"], kind="stable").reset_index(drop=True)


def empty_series() -> pd.DataFrame:
    """No runs: the same columns and dtypes as a frame with rows."""
    out = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "value": pd.Series(dtype=float)})
    for col in ("service", "metric", "host"):
        out[col] = pd.Series(dtype=str).astype("category")
    return out[COLUMNS]
