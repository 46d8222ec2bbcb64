"""Causal, seasonal, robust anomaly detection for many series at once.

A point is anomalous when it is unusual both against the recent past (a robust EWMA level
and scale) and against its seasonal expectation (the same 5-minute slot of the day, and the
same 30-minute slot of the week once a week of history exists). Taking the smaller of the
z-scores is what lets the detector (a) ignore the normal daily ramp (seasonally expected),
(b) ignore weekend lows (seasonally and recently expected), and (c) adapt to a level shift
once it persists (recently expected again after a while).

Seasonal slots learn only from earlier periods: today's points are accumulated and folded in
when the day (or week) rolls over, so an incident cannot teach the profile to expect itself.

The z-score is not the alarm: `likelihood.step` judges it against the series' own history,
so patterns the series produces routinely (recurring spikes) stop alarming while a change in
behaviour (a burst of unusual points, a broken daily pattern, a new extreme) does alarm.

Every update uses only data at or before the point and all state lives in `DetectorState`,
so scoring day by day with the state carried over gives the same floats as one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ops_pipelines.lib.aiops import likelihood

SEASONS = {"day": (288, 300), "week": (336, 1800)}  # name -> (slots, slot seconds)
_SLOT_ARRAYS = ("mean", "dev", "periods", "acc_sum", "acc_abs", "acc_n", "acc_period")
_SERIES_ARRAYS = ("level", "scale", "count")


@dataclass(frozen=True)
class DetectorParams:
    """One default sensitivity for every series; nothing here is tuned per series."""

    threshold: float = 5.0  # z at which an unfamiliar point scores 0.5 and is flagged
    level_halflife: float = 8.0  # points
    scale_halflife: float = 60.0  # points
    season_alpha: float = 0.3  # weight of the newest period in a slot's running estimate
    warmup: int = 10  # points before anything is flagged
    clip: float = 3.0  # Huber clip of update residuals, in scales: spikes barely move the baseline
    rel_floor: float = 1e-3  # scale floor relative to the level, so flat series do not divide by 0
    # The calibration layer (likelihood.py); z thresholds below are multiples of `threshold`.
    memory_halflife: float = 1440.0  # points (a day of minute data): how long the series remembers
    familiar_after: float = 3.0  # reached this often within the memory, a magnitude is normal
    burst_halflife: float = 12.0  # points averaged by the burst and season channels
    burst_z: float = 0.6  # soft evidence: z at which a point counts half
    burst_level: float = 0.3  # average evidence that is a burst (~z of 0.4 k sustained)
    season_z: float = 1.6  # z against the daily profile that counts half
    season_level: float = 0.7  # average that is a broken daily pattern (~2.4 k sustained)
    range_z: float = 0.3  # z needed with a value outside the range seen so far

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
        arrays = {"level": np.zeros(n), "scale": np.zeros(n), "count": np.zeros(n, dtype=np.int64)}
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
        out, mine = other.aligned(keys), self.aligned(keys)
        have = np.isin(keys, self.keys)
        for name, array in out.arrays.items():
            array[have] = mine.arrays[name][have]
        return out


def _zscore(x: np.ndarray, mean: np.ndarray, dev: np.ndarray, floor: np.ndarray) -> np.ndarray:
    # dev is a mean absolute deviation; 1.25 x MAD-mean ~ one standard deviation for Gaussian noise
    return (x - mean) / np.maximum(1.25 * dev, floor)


def _season_deviation(day: np.ndarray, week: np.ndarray, week_mature: np.ndarray) -> np.ndarray:
    """|z| against the daily profile, unless a weekly profile seen twice explains it (a weekend):
    then only the part both profiles agree on (0 if they disagree on the direction)."""
    both = np.where(day * week > 0, np.fmin(np.abs(day), np.abs(week)), 0.0)
    return np.where(week_mature, both, np.abs(day))


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
    a = state.arrays
    out = np.full(values.shape, np.nan)
    seconds = times // 1_000_000_000
    day_index = seconds // 86_400
    periods = {"day": day_index, "week": (day_index + 3) // 7}  # weeks start on Monday; epoch day 0 was a Thursday
    offsets = {"day": seconds % 86_400, "week": (day_index + 3) % 7 * 86_400 + seconds % 86_400}
    slots = {s: offsets[s] // SEASONS[s][1] for s in SEASONS}
    lvl, scl, cnt = a["level"], a["scale"], a["count"]
    warm = params.warmup
    for t in range(values.shape[0]):
        x = values[t]
        ok = ~np.isnan(x)
        if not ok.any():
            continue
        floor = params.rel_floor * (np.abs(np.where(cnt == 0, x, lvl)) + 1.0)
        lvl[ok & (cnt == 0)] = x[ok & (cnt == 0)]
        z = np.abs(_zscore(x, lvl, scl, floor))
        signed, seen = {}, {}
        for season in SEASONS:
            _fold_finished_period(a, season, slots[season][t], periods[season][t], ok, params, floor)
            s = slots[season][t]
            seen[season] = a[f"{season}_periods"][:, s]
            signed[season] = np.where(seen[season] > 0, _zscore(x, a[f"{season}_mean"][:, s], a[f"{season}_dev"][:, s], floor), np.nan)
            z = np.fmin(z, np.abs(signed[season]))  # fmin: an unknown slot (NaN) does not count
            _accumulate(a, season, s, periods[season][t], x, ok)
        z = np.where(cnt < warm, 0.0, z)
        known = (seen["day"] > 0) | (seen["week"] > 0)
        off_season = _season_deviation(signed["day"], signed["week"], seen["week"] >= 2)
        scores = likelihood.step(a, params, int(seconds[t]), x, z, off_season, known, ok)
        out[t] = np.where(ok, scores, np.nan)

        err = x - lvl
        bound = params.clip * np.maximum(1.25 * scl, floor)
        young = cnt < warm  # plain averages while warming up, robust exponential updates after
        step = np.where(young, err, np.clip(err, -bound, bound))
        absdev = np.where(young, np.abs(err), np.minimum(np.abs(err), 2 * bound))
        rate = np.where(young, 1.0 / np.maximum(cnt, 1), params.scale_alpha)
        new_scl = np.where(cnt == 0, 0.0, scl + rate * (absdev - scl))
        lvl[ok] = (lvl + params.level_alpha * step)[ok]
        scl[ok] = new_scl[ok]
        cnt[ok] += 1
    return out, state


def _accumulate(a: dict[str, np.ndarray], season: str, slot: int, period: int, x: np.ndarray, ok: np.ndarray) -> None:
    """Collect this period's points of a slot; they reach the profile only when the period ends."""
    p = f"{season}_"
    fresh = ok & (a[p + "acc_period"][:, slot] != period)
    a[p + "acc_sum"][fresh, slot] = 0.0
    a[p + "acc_abs"][fresh, slot] = 0.0
    a[p + "acc_n"][fresh, slot] = 0
    a[p + "acc_period"][ok, slot] = period
    ref = np.where(a[p + "periods"][:, slot] > 0, a[p + "mean"][:, slot], np.nan)
    a[p + "acc_sum"][ok, slot] += x[ok]
    a[p + "acc_abs"][ok, slot] += np.where(np.isnan(ref), 0.0, np.abs(x - ref))[ok]
    a[p + "acc_n"][ok, slot] += 1


def _fold_finished_period(a, season: str, slot: int, period: int, ok: np.ndarray, params: DetectorParams, floor) -> None:
    """Fold a slot's accumulated points from an earlier period into its mean and deviation."""
    p = f"{season}_"
    done = ok & (a[p + "acc_n"][:, slot] > 0) & (a[p + "acc_period"][:, slot] != period)
    if not done.any():
        return
    n = a[p + "acc_n"][:, slot]
    mean_new = a[p + "acc_sum"][:, slot] / np.maximum(n, 1)
    abs_new = a[p + "acc_abs"][:, slot] / np.maximum(n, 1)
    seen = a[p + "periods"][:, slot]
    m, d = a[p + "mean"][:, slot], a[p + "dev"][:, slot]
    first, young = seen == 0, seen < 3
    rate = np.where(young, 1.0 / (seen + 1.0), params.season_alpha)
    bound = params.clip * np.maximum(1.25 * d, floor)
    step = np.where(young, mean_new - m, np.clip(mean_new - m, -bound, bound))
    spread = np.where(first, 0.0, np.maximum(abs_new, np.abs(mean_new - m)))
    new_m = np.where(first, mean_new, m + rate * step)
    new_d = np.where(first, d, d + rate * (np.where(young, spread, np.minimum(spread, 2 * bound)) - d))
    # The first folded period gives a mean but no spread yet: seed it from the series' scale.
    new_d = np.where(first, a["scale"], new_d)
    a[p + "mean"][done, slot] = new_m[done]
    a[p + "dev"][done, slot] = new_d[done]
    a[p + "periods"][done, slot] = seen[done] + 1
    a[p + "acc_n"][done, slot] = 0
