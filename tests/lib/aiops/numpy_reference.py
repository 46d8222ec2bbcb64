"""The vectorised numpy detector that the compiled kernel replaced, kept as an independent oracle.

Time steps in Python, numpy across series (slow: ~0.5 ms a step). The tests check that
detector.score gives bit-identical floats and state; the state layout is DetectorState's.
"""

from functools import lru_cache

import numpy as np

from ops_pipelines.lib.aiops.detector import SEASONS, DetectorParams, DetectorState
from ops_pipelines.lib.aiops.likelihood import LEVELS, RANGE_MIN_AGE, RANGE_TOLERANCE
from ops_pipelines.lib.aiops.likelihood import RESCALE_BELOW as _RESCALE_BELOW


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


def likelihood_step(a: dict[str, np.ndarray], p: DetectorParams, now: int, x: np.ndarray, z: np.ndarray,
         season: np.ndarray, known: np.ndarray, seen_day: np.ndarray, ok: np.ndarray) -> np.ndarray:
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
    _raise(score, (seen_day >= p.season_min_days) & (d >= ks) & (ms >= p.season_level),
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


def alarm_control(a: dict[str, np.ndarray], p: DetectorParams, now: int, score: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Raise the bar after each new alarm (a flag more than rearm_s after the last) by alarm_gain;
    the extra bar halves every gain_halflife_s."""
    gain, when, last = a["gain"], a["gain_time"], a["last_alarm"]
    decayed = 1.0 + (gain - 1.0) * 0.5 ** ((now - when) / p.gain_halflife_s)
    np.copyto(gain, decayed, where=ok & (gain > 1.0))
    when[ok] = now
    with np.errstate(invalid="ignore"):
        damped = score / (score + gain * gain * (1.0 - score))
        score = np.where(ok & (gain > 1.0) & (score < 1.0), damped, score)
        alarm = score >= 0.5
        onset = ok & alarm & ~(now - last <= p.rearm_s)  # NaN: the series' first alarm
    gain[onset] = np.minimum(gain[onset] * p.alarm_gain, p.gain_max)
    last[ok & alarm] = now
    return score


def _zscore(x: np.ndarray, mean: np.ndarray, dev: np.ndarray, floor: np.ndarray) -> np.ndarray:
    # dev is a mean absolute deviation; 1.25 x MAD-mean ~ one standard deviation for Gaussian noise
    return (x - mean) / np.maximum(1.25 * dev, floor)


def _season_deviation(day: np.ndarray, week: np.ndarray, week_mature: np.ndarray) -> np.ndarray:
    """|z| against the daily profile, unless a weekly profile seen twice explains it (a weekend):
    then only the part both profiles agree on (0 if they disagree on the direction)."""
    both = np.where(day * week > 0, np.fmin(np.abs(day), np.abs(week)), 0.0)
    return np.where(week_mature, both, np.abs(day))


def reference_score(
    times: np.ndarray,
    values: np.ndarray,
    state: DetectorState,
    params: DetectorParams,
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
    lvl, scl, cnt, prev, res = a["level"], a["scale"], a["count"], a["prev_value"], a["resolution"]
    warm = params.warmup
    for t in range(values.shape[0]):
        x = values[t]
        with np.errstate(invalid="ignore"):
            ok = np.abs(x) <= params.max_abs_value
        if not ok.any():
            continue
        x = np.where(ok, x, np.nan)
        floor = params.rel_floor * (np.abs(np.where(cnt == 0, x, lvl)) + 1.0)
        floor = np.where(np.isfinite(res), np.maximum(floor, params.resolution_floor * res), floor)
        step_size = np.abs(x - prev)
        with np.errstate(invalid="ignore"):
            finer = ok & (step_size > 0) & (step_size < res)
        res[finer] = step_size[finer]
        prev[ok] = x[ok]
        lvl[ok & (cnt == 0)] = x[ok & (cnt == 0)]
        z = np.abs(_zscore(x, lvl, scl, floor))
        signed, seen = {}, {}
        for season in SEASONS:
            _fold_finished_period(a, season, slots[season][t], periods[season][t], ok, params, floor)
            s = slots[season][t]
            seen[season] = a[f"{season}_periods"][:, s]
            signed[season] = np.where(seen[season] > 0, _zscore(x, a[f"{season}_mean"][:, s], a[f"{season}_dev"][:, s], floor), np.nan)
            z = np.fmin(z, np.abs(signed[season]))  # fmin: an unknown slot (NaN) does not count
            _accumulate(a, season, s, periods[season][t], x, ok, floor, params.clip)
        z = np.where(cnt < warm, 0.0, z)
        known = (seen["day"] > 0) | (seen["week"] > 0)
        off_season = _season_deviation(signed["day"], signed["week"], seen["week"] >= 2)
        scores = likelihood_step(a, params, int(seconds[t]), x, z, off_season, known, seen["day"], ok)
        scores = alarm_control(a, params, int(seconds[t]), scores, ok)
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


def _accumulate(a: dict[str, np.ndarray], season: str, slot: int, period: int, x: np.ndarray, ok: np.ndarray,
                floor: np.ndarray, clip: float) -> None:
    """Collect this period's points of a slot; they reach the profile only when the period ends.
    Against an existing profile a point counts at most `clip` deviations away; without one, the
    spread collected is the series' scale at each point."""
    p = f"{season}_"
    fresh = ok & (a[p + "acc_period"][:, slot] != period)
    a[p + "acc_sum"][fresh, slot] = 0.0
    a[p + "acc_abs"][fresh, slot] = 0.0
    a[p + "acc_n"][fresh, slot] = 0
    a[p + "acc_period"][ok, slot] = period
    has = a[p + "periods"][:, slot] > 0
    ref = np.where(has, a[p + "mean"][:, slot], np.nan)
    bound = clip * np.maximum(1.25 * a[p + "dev"][:, slot], floor)
    x = np.where(has, np.clip(x, ref - bound, ref + bound), x)
    a[p + "acc_sum"][ok, slot] += x[ok]
    a[p + "acc_abs"][ok, slot] += np.where(np.isnan(ref), a["scale"], np.abs(x - ref))[ok]
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
    # The first folded period gives a mean; its spread is the series' scale while it was collected.
    new_d = np.where(first, abs_new, new_d)
    a[p + "mean"][done, slot] = new_m[done]
    a[p + "dev"][done, slot] = new_d[done]
    a[p + "periods"][done, slot] = seen[done] + 1
    a[p + "acc_n"][done, slot] = 0
