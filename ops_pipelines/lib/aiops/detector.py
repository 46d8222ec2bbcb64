"""Causal, seasonal, robust anomaly detection for many series at once.

A point is anomalous when it is unusual both against the recent past (a robust EWMA level
and scale) and against its seasonal expectation (the same 5-minute slot of the day, and the
same 30-minute slot of the week once a week of history exists). Taking the smaller of the
z-scores is what lets the detector (a) ignore the normal daily ramp (seasonally expected),
(b) ignore weekend lows (seasonally and recently expected), and (c) adapt to a level shift
once it persists (recently expected again after a while).

Seasonal slots learn only from earlier periods: today's points are accumulated and folded in
when the day (or week) rolls over, and each counts at most `clip` deviations away from the slot's
profile, so an incident cannot teach the profile to expect itself. The scale never drops below
the series' resolution (the smallest change seen between consecutive values), so one step of a
quantised or integer series is not an anomaly.

The z-score is not the alarm: the likelihood layer (likelihood.py) judges it against the
series' own history, so patterns the series produces routinely (recurring spikes) stop alarming
while a change in behaviour (a burst of unusual points, a broken daily pattern, a new extreme)
does alarm.

Every update uses only data at or before the point and all state lives in `DetectorState`,
so scoring day by day with the state carried over gives the same floats as one pass. The
per-point arithmetic of both layers is compiled (kernel.py): this module prepares the arrays.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ops_pipelines.lib.aiops import likelihood

SEASONS = {"day": (288, 300), "week": (336, 1800)}  # name -> (slots, slot seconds)
_SLOT_ARRAYS = ("mean", "dev", "periods", "acc_sum", "acc_abs", "acc_n", "acc_period")
_SERIES_ARRAYS = ("level", "scale", "count", "prev_value", "resolution")
_POINTS_PER_THREAD = 1_000_000  # below this a second thread costs more than it saves


@dataclass(frozen=True)
class DetectorParams:
    """One default for every series; nothing here is tuned per series.

    threshold, alarm_gain and gain_halflife_s were chosen by leave-one-category-out on the NAB
    dev slice (docs/aiops.md); the rest are unchanged from the earlier design.
    """

    threshold: float = 4.0  # z at which an unfamiliar point scores 0.5 and is flagged
    level_halflife: float = 8.0  # points
    scale_halflife: float = 60.0  # points
    season_alpha: float = 0.3  # weight of the newest period in a slot's running estimate
    warmup: int = 10  # points before anything is flagged
    clip: float = 3.0  # Huber clip of update residuals, in scales: spikes barely move the baseline
    rel_floor: float = 1e-3  # scale floor relative to the level, so flat series do not divide by 0
    # scale floor in multiples of the series' resolution (the smallest change seen between two
    # consecutive values): a one-step change of a quantised or integer series is not news
    resolution_floor: float = 1.0
    # The calibration layer (likelihood.py); z thresholds below are multiples of `threshold`.
    memory_halflife: float = 1440.0  # points (a day of minute data): how long the series remembers
    familiar_after: float = 3.0  # reached this often within the memory, a magnitude is normal
    burst_halflife: float = 12.0  # points averaged by the burst and season channels
    burst_z: float = 0.6  # soft evidence: z at which a point counts half
    burst_level: float = 0.3  # average evidence that is a burst (~z of 0.4 k sustained)
    season_z: float = 1.6  # z against the daily profile that counts half
    season_level: float = 0.7  # average that is a broken daily pattern (~2.4 k sustained)
    season_min_days: int = 2  # a daily profile learned from fewer days cannot call a pattern broken
    range_z: float = 0.3  # z needed with a value outside the range seen so far
    # Alarm control: every new alarm of a series multiplies the bar for its next one by
    # alarm_gain (at most gain_max); the extra bar halves every gain_halflife_s seconds.
    alarm_gain: float = 1.5
    gain_halflife_s: float = 86_400.0
    gain_max: float = 10.0
    rearm_s: float = 1800.0  # flags closer than this to the series' last flag belong to the same alarm
    # |values| above this are no point (like NaN): nothing physical is this large, and squares of
    # 1e308 overflow, which would leave NaN/inf in the state and blind the series for good
    max_abs_value: float = 1e100

    @property
    def level_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.level_halflife)

    @property
    def scale_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.scale_halflife)

    @property
    def memory_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.memory_halflife)

    @property
    def burst_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.burst_halflife)


@dataclass
class DetectorState:
    """Everything the detector remembers; each array's first axis aligns with `keys`."""

    keys: list[str]
    arrays: dict[str, np.ndarray]

    @classmethod
    def empty(cls, keys: list[str]) -> DetectorState:
        n = len(keys)
        arrays = {"level": np.zeros(n), "scale": np.zeros(n), "count": np.zeros(n, dtype=np.int64),
                  "prev_value": np.full(n, np.nan), "resolution": np.full(n, np.inf)}
        for season, (slots, _) in SEASONS.items():
            for name in _SLOT_ARRAYS:
                integer = name in ("periods", "acc_n", "acc_period")
                arrays[f"{season}_{name}"] = np.full((n, slots), -1 if name == "acc_period" else 0, dtype=np.int64 if integer else float)
        arrays.update(likelihood.empty_arrays(n))
        return cls(list(keys), arrays)

    def aligned(self, keys: list[str]) -> DetectorState:
        """A copy for `keys`: known series keep their state, new ones start empty.

        Arrays missing from this state (a state file written before they existed) start empty.
        """
        index = {k: i for i, k in enumerate(self.keys)}
        out = DetectorState.empty(keys)
        pos = [(j, index[k]) for j, k in enumerate(keys) if k in index]
        if pos:
            dst, src = map(np.asarray, zip(*pos))
            for name, array in out.arrays.items():
                if name in self.arrays:
                    array[dst] = self.arrays[name][src]
        return out

    def merged_into(self, other: DetectorState) -> DetectorState:
        """`other` with this state's series replaced: series absent today keep yesterday's state."""
        keys = sorted(set(other.keys) | set(self.keys))
        if len(keys) == len(set(self.keys)):  # nothing of `other` survives: skip copying it
            return self.aligned(keys)
        out, mine = other.aligned(keys), self.aligned(keys)
        have = np.isin(keys, self.keys)
        for name, array in out.arrays.items():
            array[have] = mine.arrays[name][have]
        return out


def score(
    times: np.ndarray,
    values: np.ndarray,
    state: DetectorState,
    params: DetectorParams = DetectorParams(),
) -> tuple[np.ndarray, DetectorState]:
    """Anomaly scores in [0, 1] for `values` (time x series, NaN = no point), and the new state.

    `times` are UTC epoch nanoseconds, ascending, one per row. Scores are NaN where there is no
    point. A point is flagged when its score >= 0.5: for a point of a kind the series does not
    produce routinely, when its z-score >= params.threshold (see likelihood.py for the rest).
    """
    state = state.aligned(state.keys)  # work on a copy: the caller's state stays as it was
    by_series = np.ascontiguousarray(np.asarray(values, dtype=float).T)
    return np.ascontiguousarray(score_in_place(times, by_series, state, params).T), state


def score_in_place(times: np.ndarray, by_series: np.ndarray, state: DetectorState, params: DetectorParams) -> np.ndarray:
    """`score` for values laid out series x time (C order), updating `state` in place.

    `state` must come from `DetectorState.empty` or `aligned` (dtypes and layout as made there).
    Returns the scores, series x time.
    """
    # numba is imported (and the kernel compiled) only by processes that score
    from ops_pipelines.lib.aiops import kernel

    times = np.asarray(times, dtype=np.int64)
    if by_series.shape != (len(state.keys), len(times)):
        raise ValueError(f"values have shape {by_series.shape}, expected {(len(state.keys), len(times))} (series x time)")
    by_series = np.ascontiguousarray(by_series, dtype=float)
    seconds = times // 1_000_000_000
    day_index = seconds // 86_400
    # weeks start on Monday; epoch day 0 was a Thursday
    periods = np.stack([day_index, (day_index + 3) // 7])
    offsets = np.stack([seconds % 86_400, (day_index + 3) % 7 * 86_400 + seconds % 86_400])
    slots = offsets // np.array([[SEASONS["day"][1]], [SEASONS["week"][1]]])
    active = ~np.isnan(by_series).all(axis=0)
    out = np.empty(by_series.shape)
    params_tuple, levels = _kernel_params(params), likelihood.levels(params)
    a = state.arrays

    def run(rows: slice) -> None:
        kernel.run(
            by_series[rows], seconds, slots, periods, active, params_tuple,
            tuple(a[name][rows] for name in _SERIES_ARRAYS),
            tuple(a[f"day_{name}"][rows] for name in _SLOT_ARRAYS),
            tuple(a[f"week_{name}"][rows] for name in _SLOT_ARRAYS),
            tuple(a[name][rows] for name in likelihood.SERIES_ARRAYS),
            tuple(a[f"{name}_count"][rows] for name in likelihood.LEVELS),
            levels, out[rows],
        )

    # Series never interact and the kernel releases the GIL: large inputs use a thread per core,
    # each on its own block of series (same floats whatever the split).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(cores, by_series.size // _POINTS_PER_THREAD, len(state.keys))
    if workers <= 1:
        run(slice(None))
    else:
        bounds = np.linspace(0, len(state.keys), workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]))
    return out


def _kernel_params(p: DetectorParams) -> tuple[float, ...]:
    """The parameters in the order kernel.run unpacks them."""
    return tuple(float(v) for v in (
        p.threshold, p.warmup, p.rel_floor, p.resolution_floor, p.clip, p.level_alpha, p.scale_alpha, p.season_alpha,
        p.memory_alpha, p.familiar_after, p.burst_alpha, p.burst_z, p.burst_level, p.season_z, p.season_level,
        p.season_min_days, p.range_z, likelihood.RANGE_TOLERANCE, likelihood.RANGE_MIN_AGE, likelihood.RESCALE_BELOW,
        p.alarm_gain, p.gain_halflife_s, p.gain_max, p.rearm_s, p.max_abs_value,
    ))
