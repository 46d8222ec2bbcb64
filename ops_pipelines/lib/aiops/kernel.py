"""The detector's per-point arithmetic (detector.py) and its likelihood layer (likelihood.py), compiled.

Stepping through time with numpy calls on 1,000-wide vectors spent nearly all its time in per-call
overhead. Series never interact, so this loop walks one series at a time through all its points,
keeping that series' state in registers and cache. The arithmetic is the vectorised version's,
operation for operation and in the same order, with numpy's NaN rules (`_max` is np.maximum, `_fmin`
is np.fmin, ...) and no fast-math, so the floats are identical to the numpy implementation's.

Only detector.score_in_place imports this module, inside the function: numba's import and the JIT compile are
paid by processes that score, never by loading the code location. Compiled code is cached only in an
explicit NUMBA_CACHE_DIR outside the package (numba's default cache is a __pycache__ next to this
file); the assets and `detect` set it to `<data home>/cache/numba`; without one, each process
compiles once (a few seconds).
"""

from __future__ import annotations

import os
from pathlib import Path

import numba
import numpy as np


def _cache_wanted() -> bool:
    """True when NUMBA_CACHE_DIR names a writable folder outside the package (the default data home,
    ./.ops_pipelines, may sit next to it in a checkout)."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        return False
    path, tree = Path(folder).resolve(), Path(__file__).resolve().parents[2]
    if path == tree or tree in path.parents:
        return False
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


_CACHE = _cache_wanted()
# error_model="numpy": x/0 gives inf/NaN as in numpy instead of raising ZeroDivisionError
_jit = numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
# Helpers are inlined at numba's level (no calls, no reference counting of the arrays they get):
# ~25% faster points for ~2 s more compile time, which a cache pays once.
_inline = numba.njit(cache=_CACHE, nogil=True, error_model="numpy", inline="always")


@_inline
def _max(a, b):  # np.maximum: a NaN on either side wins
    return a if (a >= b or np.isnan(a)) else b


@_inline
def _min(a, b):  # np.minimum
    return a if (a <= b or np.isnan(a)) else b


@_inline
def _fmax(a, b):  # np.fmax: a NaN loses
    return a if (a >= b or np.isnan(b)) else b


@_inline
def _fmin(a, b):  # np.fmin
    return a if (a <= b or np.isnan(b)) else b


@_inline
def _clip(x, lo, hi):  # np.clip for floats: min(max(x, lo), hi), NaN propagates
    y = x if (np.isnan(x) or x > lo) else lo
    return y if (np.isnan(y) or y < hi) else hi


@_inline
def _ratio(x, t):  # x²/(x²+t²): 0.5 exactly at the threshold, 0 for an infinite one
    return x * x / (x * x + t * t)


@_inline
def _zscore(x, mean, dev, floor):
    # dev is a mean absolute deviation; 1.25 x MAD-mean ~ one standard deviation for Gaussian noise
    return (x - mean) / _max(1.25 * dev, floor)


@_inline
def _unfamiliar(count, j, bar):
    """Index of the lowest level above every level series j reached often enough (0: none)."""
    top = 0
    for i in range(count.shape[1]):
        if count[j, i] >= bar:
            top = i + 1
    return top


@_inline
def _fold(season, j, s, period, floor, clip, alpha):
    """Fold slot s's points of an earlier period into its mean and deviation, with the same
    robust clipping as the level (the profile learns only from finished periods)."""
    mean, dev, seen_a, acc_sum, acc_abs, acc_n, acc_period = season
    n = acc_n[j, s]
    if n <= 0 or acc_period[j, s] == period:
        return
    mean_new, abs_new = acc_sum[j, s] / n, acc_abs[j, s] / n
    seen, m, d = seen_a[j, s], mean[j, s], dev[j, s]
    young = seen < 3
    if seen == 0:  # the first period gives a mean; its spread is the series' scale while it was collected
        mean[j, s], dev[j, s] = mean_new, abs_new
    else:
        rate = 1.0 / (seen + 1.0) if young else alpha
        bound = clip * _max(1.25 * d, floor)
        diff = mean_new - m
        step = diff if young else _clip(diff, -bound, bound)
        spread = _max(abs_new, abs(diff))
        mean[j, s] = m + rate * step
        dev[j, s] = d + rate * ((spread if young else _min(spread, 2.0 * bound)) - d)
    seen_a[j, s] = seen + 1
    acc_n[j, s] = 0


@_inline
def _accumulate(season, j, s, period, x, floor, clip, scl):
    """Collect this period's points of slot s; they reach the profile when the period ends.

    Where the slot has a profile, a point counts at most `clip` deviations away from it, so one bad
    day (an outage) moves even a young profile, which folds without clipping, only a bounded step.
    Without a profile yet, acc_abs collects the series' scale at each point: the first fold's spread."""
    mean, dev, seen_a, acc_sum, acc_abs, acc_n, acc_period = season
    if acc_period[j, s] != period:
        acc_sum[j, s], acc_abs[j, s], acc_n[j, s] = 0.0, 0.0, 0
    acc_period[j, s] = period
    ref = mean[j, s] if seen_a[j, s] > 0 else np.nan
    if seen_a[j, s] > 0:
        bound = clip * _max(1.25 * dev[j, s], floor)
        x = _clip(x, ref - bound, ref + bound)
    acc_sum[j, s] += x
    acc_abs[j, s] += scl if np.isnan(ref) else abs(x - ref)
    acc_n[j, s] += 1


@_inline
def _rescale(counts, j, scale):
    """Fold a tiny forgetting scale into series j's counts (see likelihood.empty_arrays)."""
    for count in counts:
        for i in range(count.shape[1]):
            count[j, i] *= scale


@_inline
def _learn_episode(count, j, levels, stat, peak, weight):
    """Count each level a new peak of the current run passes, once per run."""
    for i in range(levels.shape[0] - 1):  # the last level is inf
        if stat >= levels[i] and peak < levels[i]:
            count[j, i] += weight


@_jit
def run(values, seconds, slots, periods, active, p, series, day, week, lik, counts, levels, out):
    """Score `values` (series x time; NaN, inf or |x| > max_abs = no point) into `out`, updating every
    state array in place: whatever the values, the state stays finite.

    Series are independent, so disjoint row ranges of all arrays may run in parallel threads.

    slots/periods: (2, time) day and week slot index and period number; active: some series has a
    point at that time; p: the parameters (see detector._kernel_params); the rest are the state
    arrays of DetectorState in a fixed order, and the likelihood levels with inf appended.
    """
    (k, warm, rel_floor, res_floor, clip, level_alpha, scale_alpha, season_alpha, alpha, familiar_after,
     burst_alpha, burst_z, burst_level, season_z, season_level, season_min, range_z,
     range_tolerance, range_min_age, rescale_below, alarm_gain, gain_halflife, gain_max, rearm, max_abs) = p
    level, scale_a, count_a, prev_a, resolution_a = series
    (memory_scale, point_peak, burst, burst_peak, season, range_lo, range_hi, born, point_index,
     gain_a, gain_time_a, last_alarm_a) = lik
    point_count, burst_count, season_count = counts
    point_levels, burst_levels, season_levels = levels
    soft, ks, two_k = burst_z * k, season_z * k, 2 * k
    bar_scaled = (familiar_after - 0.5) * alpha  # the bar is this / memory scale
    for j in range(values.shape[0]):
        lvl, scl, cnt = level[j], scale_a[j], count_a[j]
        mscale, ppeak, m, bpeak, ms = memory_scale[j], point_peak[j], burst[j], burst_peak[j], season[j]
        lo, hi, first_seen, pidx = range_lo[j], range_hi[j], born[j], point_index[j]
        prev, res, gain, gain_time, last_alarm = prev_a[j], resolution_a[j], gain_a[j], gain_time_a[j], last_alarm_a[j]
        last_elapsed, decay = -1.0, 1.0
        for t in range(values.shape[1]):
            x = values[j, t]
            if not abs(x) <= max_abs:  # NaN, inf or beyond any physical quantity (1e308 would overflow z²)
                out[j, t] = np.nan  # no point, no score
                if active[t] and mscale < rescale_below:  # only a state made elsewhere starts this small
                    _rescale(counts, j, mscale)
                    mscale = 1.0
                continue
            # --- detector: z against the recent past and the seasonal slots
            floor = rel_floor * (abs(x if cnt == 0 else lvl) + 1.0)
            if res < np.inf:  # no deviation below the series' resolution counts (quantised, integer series)
                floor = _max(floor, res_floor * res)
            step_size = abs(x - prev)
            if step_size > 0.0 and step_size < res:
                res = step_size
            prev = x
            if cnt == 0:
                lvl = x
            z = abs(_zscore(x, lvl, scl, floor))
            _fold(day, j, slots[0, t], periods[0, t], floor, clip, season_alpha)
            seen_day = day[2][j, slots[0, t]]
            signed_day = _zscore(x, day[0][j, slots[0, t]], day[1][j, slots[0, t]], floor) if seen_day > 0 else np.nan
            z = _fmin(z, abs(signed_day))
            _accumulate(day, j, slots[0, t], periods[0, t], x, floor, clip, scl)
            _fold(week, j, slots[1, t], periods[1, t], floor, clip, season_alpha)
            seen_week = week[2][j, slots[1, t]]
            signed_week = _zscore(x, week[0][j, slots[1, t]], week[1][j, slots[1, t]], floor) if seen_week > 0 else np.nan
            z = _fmin(z, abs(signed_week))
            _accumulate(week, j, slots[1, t], periods[1, t], x, floor, clip, scl)
            if cnt < warm:
                z = 0.0
            known = seen_day > 0 or seen_week > 0
            # |z| against the daily profile, unless a weekly profile seen twice explains it (a weekend):
            # then only the part both profiles agree on (0 if they disagree on the direction)
            if seen_week >= 2:
                off_season = _fmin(abs(signed_day), abs(signed_week)) if signed_day * signed_week > 0 else 0.0
            else:
                off_season = abs(signed_day)

            # --- likelihood.step: point, burst, season and range channels
            # familiarity bar and learning weight divide by the memory scale: computed only where
            # used (rarely), which saves two divisions a point
            z2 = z * z
            if z >= k:
                pidx = _unfamiliar(point_count, j, bar_scaled / mscale)
            k_eff = _max(point_levels[pidx], k if known else two_k)
            score = z2 / (z2 + k_eff * k_eff)
            m = m + burst_alpha * (z2 / (z2 + soft * soft) - m)
            if known and z >= soft and m >= burst_level:
                score = _fmax(score, _ratio(m, burst_levels[_unfamiliar(burst_count, j, bar_scaled / mscale)]))
            d = _fmax(off_season, 0.0)
            ms = ms + burst_alpha * (_ratio(d, ks) - ms)
            if seen_day >= season_min and d >= ks and ms >= season_level:
                score = _fmax(score, _ratio(ms, season_levels[_unfamiliar(season_count, j, bar_scaled / mscale)]))
            now = float(seconds[t])
            first_seen = _fmin(first_seen, now)
            margin = range_tolerance * (hi - lo)
            if (x > hi + margin or x < lo - margin) and known and now - first_seen >= range_min_age:
                score = _fmax(score, _ratio(z, range_z * k))
            lo, hi = _fmin(lo, x), _fmax(hi, x)
            # alarm control: each new alarm raises the bar for the next by alarm_gain; the bar decays
            # back towards 1 with gain_halflife (seconds)
            if gain > 1.0:
                elapsed = now - gain_time
                if elapsed != last_elapsed:  # regular sampling: one power per series, not per point
                    last_elapsed, decay = elapsed, 0.5 ** (elapsed / gain_halflife)
                gain = 1.0 + (gain - 1.0) * decay
            gain_time = now
            if gain > 1.0 and score < 1.0:
                score = score / (score + gain * gain * (1.0 - score))
            if score >= 0.5:  # an alarm; flags within `rearm` seconds of the last one continue it
                if not now - last_alarm <= rearm:  # (NaN: the series' first alarm)
                    gain = _min(gain * alarm_gain, gain_max)
                last_alarm = now
            # learn what this point showed (after scoring it)
            if known:
                mscale *= 1.0 - alpha
            if mscale < rescale_below:
                _rescale(counts, j, mscale)
                mscale = 1.0
            if known and z > ppeak and z >= k:
                _learn_episode(point_count, j, point_levels, z, ppeak, alpha / mscale)
            ppeak = _fmax(ppeak, z) if z >= k else 0.0
            if known and m > bpeak and m >= burst_level:
                _learn_episode(burst_count, j, burst_levels, m, bpeak, alpha / mscale)
            bpeak = _fmax(bpeak, m) if m >= burst_level else 0.0
            if known and ms >= season_level:
                weight = alpha / mscale
                for i in range(season_levels.shape[0] - 1):
                    season_count[j, i] += weight if ms >= season_levels[i] else 0.0
            out[j, t] = score

            # --- detector: robust EWMA update of level and scale
            err = x - lvl
            bound = clip * _max(1.25 * scl, floor)
            young = cnt < warm  # plain averages while warming up
            step = err if young else _clip(err, -bound, bound)
            absdev = abs(err) if young else _min(abs(err), 2.0 * bound)
            rate = 1.0 / max(cnt, 1) if young else scale_alpha
            scl = 0.0 if cnt == 0 else scl + rate * (absdev - scl)
            lvl = lvl + level_alpha * step
            cnt += 1
        level[j], scale_a[j], count_a[j] = lvl, scl, cnt
        memory_scale[j], point_peak[j], burst[j], burst_peak[j], season[j] = mscale, ppeak, m, bpeak, ms
        range_lo[j], range_hi[j], born[j], point_index[j] = lo, hi, first_seen, pidx
        prev_a[j], resolution_a[j], gain_a[j], gain_time_a[j], last_alarm_a[j] = prev, res, gain, gain_time, last_alarm
