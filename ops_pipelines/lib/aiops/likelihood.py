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

* alarm control: each new alarm (a flagged point more than `rearm_s` after the last one) multiplies
  the bar for the series' next alarm by `alarm_gain` (at most `gain_max`); the extra bar halves
  every `gain_halflife_s` seconds. It is applied to the final score (s -> s / (s + g²(1 - s)),
  so s >= 0.5 exactly when the evidence is g times the base threshold): heavy-tailed series no
  longer alarm at every new spike, and a series quiet for days is back at full sensitivity.
  The season channel also waits for a daily profile learned from `season_min_days` days.

Familiarity is learned only from points that had a seasonal reference, and a point without
one (a new series, a never-seen slot of the day) needs twice the usual z: until a day has
been seen, a swing may simply be the daily cycle. Familiarity is only checked where a channel
could alarm (rare, so cheap); below the threshold the point score uses the familiar level
found at the last check.

Everything is causal; the state lives in the arrays made by `empty_arrays`, so chunked scoring
with the state carried over gives the same floats as one pass. The per-point arithmetic is in
kernel.py (compiled, one series at a time, together with the detector's).
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
# Forgetting multiplies a running scale instead of every count; below this the scale is folded
# into the counts and reset to 1 (every ~700k learning points at the default memory).
RESCALE_BELOW = 1e-150


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
        "gain": np.ones(n),  # alarm control: the bar's current multiplier (>= 1)
        "gain_time": np.full(n, np.nan),  # epoch seconds the gain was last decayed to
        "last_alarm": np.full(n, np.nan),  # epoch seconds of the series' last flagged point
    }
    for name, grid in LEVELS.items():
        arrays[f"{name}_count"] = np.zeros((n, len(grid)))
    # index of the lowest point level above every familiar one (len(levels): none), as last seen
    arrays["point_index"] = np.zeros(n, dtype=np.int64)
    return arrays


# The per-series arrays in the order kernel.run unpacks them (the counts follow LEVELS' order).
SERIES_ARRAYS = ("memory_scale", "point_peak", "burst", "burst_peak", "season", "range_lo", "range_hi", "born", "point_index",
                 "gain", "gain_time", "last_alarm")


@lru_cache(maxsize=64)
def _levels(name: str, base: float) -> np.ndarray:
    """The channel's levels for this base threshold, then inf (every level is familiar)."""
    return np.append(base * LEVELS[name], np.inf)


def levels(p: DetectorParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point, burst and season levels for these parameters, each followed by inf."""
    return _levels("point", float(p.threshold)), _levels("burst", float(p.burst_level)), _levels("season", float(p.season_level))
