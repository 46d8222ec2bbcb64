"""From raw z-scores to alarms: what is unusual *for this series*, judged against its own past.

The detector's z-score says how far a point is from what the recent past and the seasonal
profiles expect. On its own it flags every occurrence of a pattern that the series produces
all the time (a load balancer's routine spikes), and it misses changes that no single point
shows. This layer, in the spirit of HTM's anomaly likelihood, turns the raw evidence into a
score in [0, 1] (flag at >= 0.5): the point channel's score, raised wherever one of the
other channels alarms.

* point: z >= threshold, unless the series has recently reached that magnitude several times
  (`familiar_after` times within ~`memory_halflife` points). Recurring spikes become normal;
  a spike bigger than any recent one is still news. Magnitudes are binned on a geometric
  grid from k to ~10k; anything beyond the top level is "extreme", and extremes can become
  familiar too (a flat series with routine spikes gives arbitrarily large z).
* burst: the short-run average of a soft "is this point unusual" score is high, i.e. several
  moderately unusual points in a row (a change in behaviour that no single point shows),
  again unless averages that high are familiar for this series.
* season: the point is far from its daily profile for a sustained stretch while the recent
  level has already adopted it (the daily ramp did not happen, a flat line where a cycle
  should be). Familiarity counts points here, not episodes: it alarms for the first few
  points and then treats the change as known, so a permanent level shift (or the first
  weekend, before a weekly profile exists) is not flagged for hours on end.
* range: the value leaves the range the series has ever shown by more than 5% of that range
  (HTM's "spatial anomaly"), with a modest z to go with it, once three days are known.

Familiarity is learned only from points that had a seasonal reference, and a point without
one (a new series, a never-seen slot of the day) needs twice the usual z: until a day has
been seen, a swing may simply be the daily cycle. Everything is causal and vectorised across
series; the state lives in the arrays made by `empty_arrays`, so chunked scoring with the
state carried over gives the same floats as one pass.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ops_pipelines.lib.aiops.detector import DetectorParams

# Each channel compares its statistic with a geometric grid of levels (multiples of the
# channel's base threshold); per level the state counts how often the series reached it.
LEVELS = {
    "point": 1.25 ** np.arange(11),  # x threshold: k .. 9.3k, the top level means "extreme"
    "burst": 1.1 ** np.arange(12),  # x burst_level: 0.3 .. 0.86 for the default
    # one level: a broken daily pattern alarms for its first few points, then it is known
    "season": np.ones(1),  # x season_level
}
RANGE_TOLERANCE = 0.05  # share of the known range a value must exceed it by (as in HTM)
RANGE_MIN_AGE = 3 * 86_400  # seconds of history before the range is trusted
_RESCALE_BELOW = 1e-150  # see _decay


def empty_arrays(n: int) -> dict[str, np.ndarray]:
    """State of the calibration layer for `n` new series."""
    arrays = {
        # Familiarity counts decay by (1 - memory_alpha) per learning point. Rather than
        # decaying every count every step, a count is stored divided by `memory_scale`.
        "memory_scale": np.ones(n),
        "point_peak": np.zeros(n),  # highest z of the current run of z >= k (0 outside one)
        "burst": np.zeros(n),  # short average of soft evidence
        "burst_peak": np.zeros(n),
        "season": np.zeros(n),  # short average of evidence against the daily profile
        "range_lo": np.full(n, np.inf),
        "range_hi": np.full(n, -np.inf),
        "born": np.full(n, np.nan),  # epoch seconds of the series' first point
    }
    for name, levels in LEVELS.items():
        arrays[f"{name}_count"] = np.zeros((n, len(levels)))
    # index of the lowest point level above every familiar one (len(levels): none), as last seen
    arrays["point_index"] = np.zeros(n, dtype=np.int64)
    return arrays


def _ratio(x: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """x²/(x²+t²): 0.5 exactly at the threshold, towards 1 above it, 0 for an infinite threshold."""
    return x * x / (x * x + threshold * threshold)


@lru_cache(maxsize=64)
def _levels(name: str, base: float) -> np.ndarray:
    """The channel's levels for this base threshold, then inf (every level is familiar)."""
    return np.append(base * LEVELS[name], np.inf)


def _unfamiliar(a: dict[str, np.ndarray], name: str, rows: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """For `rows`, the index of the lowest level above every level reached often enough."""
    seen = a[f"{name}_count"][rows] >= bar[rows, None]
    return (seen * np.arange(1, seen.shape[1] + 1)).max(axis=1)


def _raise(score: np.ndarray, alarm: np.ndarray, value) -> None:
    """Where `alarm`, raise the score to value(rows) (computed only for those rows)."""
    if alarm.any():
        rows = np.flatnonzero(alarm)
        score[rows] = np.fmax(score[rows], value(rows))


def _decay(a: dict[str, np.ndarray], learn: np.ndarray, alpha: float) -> None:
    """One step of forgetting for the series that learn now, O(series) instead of O(levels)."""
    scale = a["memory_scale"]
    scale[learn] *= 1.0 - alpha
    if scale.min() < _RESCALE_BELOW:  # fold the scale into the counts (every ~450k points)
        tiny = np.flatnonzero(scale < _RESCALE_BELOW)
        for name in LEVELS:
            a[f"{name}_count"][tiny] *= scale[tiny, None]
        scale[tiny] = 1.0


def step(a: dict[str, np.ndarray], p: DetectorParams, now: int, x: np.ndarray, z: np.ndarray,
         season: np.ndarray, known: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Score one time step for every series and update the layer's state in `a`.

    x: values (NaN = no point); z: the detector's z-score (0 while warming up); season: |z|
    against the daily profile (NaN without one; only what a mature weekly profile does not
    explain); known: the point had some seasonal reference; ok: the series has a point now.
    The score is the point channel's, raised where another channel alarms. Familiarity is
    only checked where a channel could alarm (rare, so cheap); below the threshold the point
    score uses the familiar level found at the last check.
    """
    k, alpha = p.threshold, p.memory_alpha
    learn = ok & known
    # a decayed count of familiar_after hits (less half a hit: the oldest ones have faded)
    bar = (p.familiar_after - 0.5) * alpha / a["memory_scale"]
    z2 = z * z

    # point: beyond every familiar magnitude; without a seasonal reference, at least 2k
    check = ok & (z >= k)
    if check.any():
        rows = np.flatnonzero(check)
        a["point_index"][rows] = _unfamiliar(a, "point", rows, bar)
    k_eff = np.maximum(_levels("point", k)[a["point_index"]], np.where(known, k, 2 * k))
    score = z2 / (z2 + k_eff * k_eff)

    # burst: a short average of soft evidence (z ~ 0.4k sustained, or a few points near k),
    # alarming only while the current point itself is unusual
    soft, burst = p.burst_z * k, _levels("burst", p.burst_level)
    m = a["burst"]
    np.add(m, p.burst_alpha * (z2 / (z2 + soft * soft) - m), out=m, where=ok)
    _raise(score, known & (z >= soft) & (m >= p.burst_level),
           lambda rows: _ratio(m[rows], burst[_unfamiliar(a, "burst", rows, bar)]))

    # season: far off the daily profile for a while
    ks, season_levels = p.season_z * k, _levels("season", p.season_level)
    d = np.fmax(season, 0.0)  # fmax: no reference (NaN) is no evidence (0)
    ms = a["season"]
    np.add(ms, p.burst_alpha * (_ratio(d, ks) - ms), out=ms, where=ok)
    _raise(score, known & (d >= ks) & (ms >= p.season_level),
           lambda rows: _ratio(ms[rows], season_levels[_unfamiliar(a, "season", rows, bar)]))

    # range: a new extreme by a margin, with some z to go with it, once a few days are known
    born, lo, hi = a["born"], a["range_lo"], a["range_hi"]
    np.fmin(born, now, out=born, where=ok)  # fmin: a first point (NaN so far) sets it
    margin = RANGE_TOLERANCE * (hi - lo)
    with np.errstate(invalid="ignore"):
        outside = (x > hi + margin) | (x < lo - margin)
    _raise(score, outside & known & (now - born >= RANGE_MIN_AGE), lambda rows: _ratio(z[rows], p.range_z * k))
    np.fmin(lo, x, out=lo, where=ok)
    np.fmax(hi, x, out=hi, where=ok)

    # learn what this point showed (after scoring it): levels reached count as hits
    _decay(a, learn, alpha)
    weight = alpha / a["memory_scale"]
    # point and burst count episodes: a level once per run above the base, however the run wanders
    for name, stat, base in (("point", z, k), ("burst", m, p.burst_level)):
        peak, levels = a[f"{name}_peak"], _levels(name, base)[:-1]
        new_peak = learn & (stat > peak) & (stat >= base)
        if new_peak.any():
            rows = np.flatnonzero(new_peak)
            hits = (stat[rows, None] >= levels) & (peak[rows, None] < levels)
            a[f"{name}_count"][rows] += hits * weight[rows, None]
        np.copyto(peak, np.where(stat >= base, np.fmax(peak, stat), 0.0), where=ok)
    # season counts points, so a lasting change becomes familiar within a few points
    lasting = learn & (ms >= p.season_level)
    if lasting.any():
        rows = np.flatnonzero(lasting)
        a["season_count"][rows] += (ms[rows, None] >= season_levels[:-1]) * weight[rows, None]
    return score
