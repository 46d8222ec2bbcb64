"""Log anomalies: template bursts against a causal, seasonal baseline, and never-seen templates.

Lines are counted per (minute, service, template). Each count is compared with its baseline, the
larger of a robust EWMA over recent minutes and the same half hour of earlier days, on the
square-root (Anscombe) scale where Poisson noise has unit variance, with a little extra variance
for busy templates. While a minute is clearly high its trailing 5-minute sum is scored too, so a
steady trickle of a rare error (2 lines a minute) is caught. WARN, ERROR and CRITICAL templates
are flagged at a lower z than INFO/DEBUG. Bursts are clipped before they reach the baseline, and
seasonal slots learn only from finished days. Every minute of every day that has lines is
processed (zero counts included) and all memory lives in `LogDetectorState`, so scoring day by
day with the state carried over equals one pass.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.log_templates import MinedLogs
from ops_pipelines.lib.aiops.state_store import (
    npy_bytes,
    read_npy_members,
    write_zip_atomic,
)

SEVERE = ("WARN", "ERROR", "CRITICAL")
COLUMNS = ["timestamp", "service", "template_id", "template", "level", "count", "baseline", "score", "kind", "is_anomaly"]
_DAY = 1440
_NS_PER_MINUTE = 60_000_000_000


@dataclass(frozen=True)
class LogDetectorParams:
    """One default sensitivity for every (service, template); nothing is tuned per series."""

    halflife: float = 30.0  # minutes, of the recent-level EWMA
    slot_minutes: int = 30  # width of a seasonal slot (48 per day)
    season_alpha: float = 0.3  # weight of the newest day in a slot's profile
    window: int = 5  # minutes in the trailing sum scored next to the single minute
    gate: float = 1.5  # the minute's own z from which the trailing sum is scored too
    warmup_minutes: int = _DAY  # history before anything (burst or new template) is flagged
    clip: float = 3.0  # updates are capped at baseline + clip * sqrt(baseline + 1): bursts barely teach
    dispersion: float = 0.02  # extra-Poisson variance, var = b + dispersion * b^2
    threshold_severe: float = 4.0  # z with score 0.5 for WARN / ERROR / CRITICAL templates
    threshold_other: float = 6.0  # INFO, DEBUG and unknown levels

    @property
    def alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.halflife)


def _empty_arrays(n: int, params: LogDetectorParams) -> dict[str, np.ndarray]:
    slots = _DAY // params.slot_minutes
    return {
        "level": np.zeros(n), "minutes": np.zeros(n, dtype=np.int64), "active_from": np.zeros(n, dtype=np.int64),
        # the previous window - 1 minutes, newest first: counts, recent level, seasonal expectation
        "recent": np.zeros((n, params.window - 1)), "recent_level": np.zeros((n, params.window - 1)),
        "recent_season": np.zeros((n, params.window - 1)), "season_mean": np.zeros((n, slots)),
        "season_days": np.zeros((n, slots), dtype=np.int64), "acc_sum": np.zeros((n, slots)),
        "acc_n": np.zeros((n, slots), dtype=np.int64),
    }


@dataclass
class LogDetectorState:
    """Per (service, template) baselines; arrays align with `keys` along their first axis."""

    keys: list[tuple[str, int]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    start_minute: int | None = None  # first processed minute: the warm-up counts from here
    last_minute: int | None = None
    acc_day: int | None = None  # the day the seasonal accumulators collect

    def aligned(self, keys: list[tuple[str, int]], first: dict[tuple[str, int], int], params: LogDetectorParams):
        """A copy for `keys`: known keys keep their state, new ones start at 0 from `first[key]`."""
        out = LogDetectorState(list(keys), _empty_arrays(len(keys), params), self.start_minute, self.last_minute, self.acc_day)
        for name, array in self.arrays.items():
            if array.shape[1:] != out.arrays[name].shape[1:]:
                raise ValueError(f"log detector state array {name!r} has shape {array.shape}: written with other "
                                 "window/slot settings; delete the log_anomalies state folder to start over")
        index = {k: i for i, k in enumerate(self.keys)}
        known = np.array([k in index for k in keys], dtype=bool)
        src = np.array([index[k] for k in keys if k in index], dtype=np.int64)
        for name, array in out.arrays.items() if len(src) else ():
            array[known] = self.arrays[name][src]
        out.arrays["active_from"][~known] = [first[k] for k in keys if k not in index]
        return out


def template_counts(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines per (minute, service, template_id), vectorised; `minute` in epoch minutes."""
    keys = ["minute", "service", "template_id"]
    if lines.empty:
        return pd.DataFrame({"minute": np.array([], dtype=np.int64), "service": pd.Series(dtype=object),
                             "template_id": np.array([], dtype=np.int64), "count": np.array([], dtype=np.int64)})
    frame = lines[keys].astype({"service": str})
    return frame.groupby(keys, sort=True).size().rename("count").astype(np.int64).reset_index()


def score_logs(mined: MinedLogs, state: LogDetectorState | None = None,
               params: LogDetectorParams = LogDetectorParams()) -> tuple[pd.DataFrame, LogDetectorState]:
    """Score every observed (minute, service, template) count; return the rows and the new state.

    Rows (columns `COLUMNS`): kind "new_template" (score 1) at the first minute of a template first
    seen after the warm-up, else "burst" with a score in [0, 1]; is_anomaly = score >= 0.5.
    `mined` must cover whole UTC days later than the state's last minute.
    """
    state = state or LogDetectorState()
    counts = template_counts(mined.lines)
    if counts.empty:
        return _frame(counts, mined, np.array([]), np.array([]), params), state
    days = np.unique(counts["minute"].to_numpy() // _DAY)
    grid = (days[:, None] * _DAY + np.arange(_DAY)[None, :]).ravel()
    if state.last_minute is not None and grid[0] <= state.last_minute:
        raise ValueError(f"log rows start on day {pd.Timestamp(grid[0] * _NS_PER_MINUTE, tz='UTC'):%Y-%m-%d}, at or "
                         "before the detector state's last minute: scoring must move forward in time")
    firsts = counts.drop_duplicates(["service", "template_id"])  # counts are sorted by minute
    first = dict(zip(zip(firsts["service"], firsts["template_id"].tolist()), firsts["minute"].tolist()))
    keys = sorted(set(state.keys) | set(first))
    state = state.aligned(keys, first, params)
    k_index = pd.MultiIndex.from_tuples(keys).get_indexer(pd.MultiIndex.from_arrays([counts["service"], counts["template_id"]]))
    t_index = np.searchsorted(grid, counts["minute"].to_numpy())
    matrix = np.zeros((len(grid), len(keys)))
    matrix[t_index, k_index] = counts["count"].to_numpy(dtype=float)
    levels = dict(zip(mined.templates["template_id"], mined.templates["level"]))
    severe = np.array([levels.get(t) in SEVERE for _, t in keys])
    scores, baselines = _run(grid, matrix, severe, state, params)
    return _frame(counts, mined, scores[t_index, k_index], baselines[t_index, k_index], params), state


def _z(count: np.ndarray, base: np.ndarray, dispersion: float) -> np.ndarray:
    return 2.0 * (np.sqrt(count + 0.375) - np.sqrt(base + 0.375)) / np.sqrt(1.0 + dispersion * base)


def _run(grid: np.ndarray, counts: np.ndarray, severe: np.ndarray, state: LogDetectorState,
         params: LogDetectorParams) -> tuple[np.ndarray, np.ndarray]:
    """The minute loop (vectorised across series); mutates `state`, returns scores and baselines."""
    a = state.arrays
    if state.start_minute is None:
        state.start_minute = int(grid[0])
    scores, baselines = np.zeros(counts.shape), np.zeros(counts.shape)
    k = np.where(severe, params.threshold_severe, params.threshold_other)
    for t, minute in enumerate(grid.tolist()):
        day, slot = minute // _DAY, minute % _DAY // params.slot_minutes
        if state.acc_day is not None and day != state.acc_day:
            _fold(a, params)
        state.acc_day = day
        c, active = counts[t], a["active_from"] <= minute
        season = np.where(a["season_days"][:, slot] > 0, a["season_mean"][:, slot], 0.0)
        base = np.maximum(a["level"], season)
        z = _z(c, base, params.dispersion)
        # The trailing sum counts only while this minute itself is clearly high, so a burst does
        # not flag the ordinary lines of the minutes after it.
        z = np.where(z >= params.gate, np.maximum(z, _window_z(a, c, season, params)), z)
        warm = minute - state.start_minute >= params.warmup_minutes
        if warm:
            scores[t] = np.where(z > 0, z * z / (z * z + k * k), 0.0)
        baselines[t] = base
        # Learning: plain averages while warming up, then capped exponential updates.
        x = np.minimum(c, base + params.clip * np.sqrt(base + 1.0)) if warm else c
        rate = params.alpha if warm else np.maximum(params.alpha, 1.0 / (a["minutes"] + 1.0))
        level = a["level"]
        a["level"] = np.where(active, level + rate * (x - level), level)
        a["minutes"] += active
        for name, now in (("recent", c), ("recent_level", level), ("recent_season", season)):
            a[name] = np.column_stack([now, a[name][:, :-1]])[:, : params.window - 1]
        a["acc_sum"][active, slot] += x[active]
        a["acc_n"][active, slot] += 1
    state.last_minute = int(grid[-1])
    return scores, baselines


def _window_z(a: dict[str, np.ndarray], c: np.ndarray, season: np.ndarray, params: LogDetectorParams) -> np.ndarray:
    """z of the trailing window's line sum: catches a steady trickle of a rare template.

    Its expectation uses the lowest recent level in the window, because the level already learns
    from the trickle being scored, and each minute's own seasonal slot.
    """
    exists = np.arange(params.window - 1)[None, :] < np.minimum(a["minutes"], params.window - 1)[:, None]
    low = np.minimum(a["level"], np.where(exists, a["recent_level"], np.inf).min(axis=1, initial=np.inf))
    expected = np.maximum(low, season) + np.where(exists, np.maximum(low[:, None], a["recent_season"]), 0.0).sum(axis=1)
    return _z(c + a["recent"].sum(axis=1), expected, params.dispersion)


def _fold(a: dict[str, np.ndarray], params: LogDetectorParams) -> None:
    """A day ended: fold its slot means into the seasonal profile (plain mean for 3 days, then EWMA)."""
    done = a["acc_n"] > 0
    seen = a["season_days"]
    rate = np.where(seen < 3, 1.0 / (seen + 1.0), params.season_alpha)
    mean_new = a["acc_sum"] / np.maximum(a["acc_n"], 1)
    a["season_mean"] = np.where(done, a["season_mean"] + rate * (mean_new - a["season_mean"]), a["season_mean"])
    a["season_days"] = seen + done
    a["acc_sum"] = np.zeros_like(a["acc_sum"])
    a["acc_n"] = np.zeros_like(a["acc_n"])


def _frame(counts: pd.DataFrame, mined: MinedLogs, scores: np.ndarray, baselines: np.ndarray,
           params: LogDetectorParams) -> pd.DataFrame:
    t = mined.templates.set_index("template_id")
    out = pd.DataFrame({
        "timestamp": pd.to_datetime(counts["minute"].to_numpy(dtype=np.int64) * _NS_PER_MINUTE, utc=True),
        "service": counts["service"].astype(object).to_numpy(),
        "template_id": counts["template_id"].to_numpy(dtype=np.int64),
        "template": t["template"].reindex(counts["template_id"]).to_numpy(dtype=object),
        "level": t["level"].reindex(counts["template_id"]).to_numpy(dtype=object),
        "count": counts["count"].to_numpy(dtype=np.int64),
        "baseline": np.asarray(baselines, dtype=float),
        "score": np.asarray(scores, dtype=float),
    })
    first = t["first_seen"].reindex(counts["template_id"]).array.asi8 // _NS_PER_MINUTE
    warm_from = (mined.history_start or 0) + params.warmup_minutes
    new = (first == counts["minute"].to_numpy()) & (first >= warm_from)
    out["kind"] = np.where(new, "new_template", "burst").astype(object)
    out.loc[new, "score"] = 1.0
    out["is_anomaly"] = out["score"] >= 0.5
    return out[COLUMNS]


def save_detector_state(state: LogDetectorState, path: Path) -> None:
    """Write the detector state as a zip of .npy arrays and a JSON header (no pickle, reproducible)."""
    meta = {"start_minute": state.start_minute, "last_minute": state.last_minute, "acc_day": state.acc_day}
    members = {"meta.json": json.dumps(meta, sort_keys=True).encode(),
               "key_service.npy": npy_bytes(np.asarray([s for s, _ in state.keys], dtype=np.str_)),
               "key_template.npy": npy_bytes(np.asarray([t for _, t in state.keys], dtype=np.int64))}
    members.update({f"{name}.npy": npy_bytes(array) for name, array in state.arrays.items()})
    write_zip_atomic(path, members)


def load_detector_state(path: Path) -> LogDetectorState:
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    arrays = read_npy_members(path)
    keys = list(zip(arrays.pop("key_service").tolist(), arrays.pop("key_template").tolist()))
    return LogDetectorState(keys, arrays, meta["start_minute"], meta["last_minute"], meta["acc_day"])
