"""NAB (Numenta Anomaly Benchmark) scoring, written from the description in NAB's SCORING notes.

A detector's per-row anomaly scores become detections at a threshold; each labeled window earns
the sigmoid-weighted value of its earliest detection (or costs A_FN when missed) and every
detection outside windows costs up to A_FP, less when it comes just after a window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PROBATION_SHARE = 0.15
PROBATION_CAP = 750
FAR_AFTER = 3.0  # beyond this many (previous-window widths) after a window an FP costs full A_FP

Window = tuple[pd.Timestamp, pd.Timestamp]
Column = Sequence | np.ndarray | pd.Series | pd.Index
ScoredSeries = tuple[Column, Column]  # (timestamps, anomaly scores), one per row


@dataclass(frozen=True)
class Profile:
    """Weights of a NAB application profile (A_TN is unused by NAB, so it is left out)."""

    name: str
    A_TP: float
    A_FP: float
    A_FN: float


STANDARD = Profile("standard", 1.0, 0.11, 1.0)
LOW_FP = Profile("reward_low_FP_rate", 1.0, 0.22, 1.0)
LOW_FN = Profile("reward_low_FN_rate", 1.0, 0.11, 2.0)
PROFILES: dict[str, Profile] = {p.name: p for p in (STANDARD, LOW_FP, LOW_FN)}


@dataclass(frozen=True)
class FileScore:
    """Raw NAB score of one file at one threshold, with its window and FP counts."""

    raw: float
    tp: int  # windows with at least one detection
    fn: int  # windows without any detection
    fp: int  # detection rows outside windows (each one pays)

    @property
    def n_windows(self) -> int:
        return self.tp + self.fn


@dataclass(frozen=True)
class CorpusScore:
    """Summed raw score of a set of files at one threshold, normalised over their windows."""

    raw: float
    normalised: float  # 0 = never fires, 100 = every window caught at its first row, no FP
    threshold: float
    profile: Profile
    tp: int
    fn: int
    fp: int
    files: Mapping[str, FileScore] = field(repr=False)

    @property
    def n_windows(self) -> int:
        return self.tp + self.fn


def load_windows(path: str | Path) -> dict[str, list[Window]]:
    """Read NAB's `combined_windows.json`: relative data path -> [(start, end), ...]."""
    raw = json.loads(Path(path).read_text())
    return {name: [(pd.Timestamp(s), pd.Timestamp(e)) for s, e in pairs] for name, pairs in raw.items()}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """NAB's scaled sigmoid 2/(1+e^(5x)) − 1: towards +1 on the left, 0 at x = 0, towards −1 on the right."""
    # written as −tanh(2.5x), the same function, because e^(5x) overflows for rows far from a window
    return -np.tanh(2.5 * np.asarray(x, dtype=float))


_SIGMOID_LEFT_EDGE = float(sigmoid(-1.0))


@dataclass(frozen=True)
class _Layout:
    """Everything about a file's rows that depends only on position, not on the detector."""

    start: int  # first row past the probation period
    bounds: np.ndarray  # (k, 2) first and last row of each scored window
    inside: np.ndarray  # bool per row
    tp_value: np.ndarray  # σ(y)/σ(−1) inside windows, 0 elsewhere (times A_TP)
    fp_value: np.ndarray  # σ(y) or −1 outside windows, 0 inside (times A_FP)


def _naive_utc(values: Column) -> np.ndarray:
    idx = pd.DatetimeIndex(pd.to_datetime(values))
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.as_unit("ns").to_numpy()


def _scores(values: Column, n: int) -> np.ndarray:
    s = np.asarray(values, dtype=float)
    if s.shape != (n,):
        raise ValueError(f"{s.shape[0] if s.ndim else 0} scores for {n} timestamps")
    # NaN would poison the running maxima; a NaN score simply never fires
    return np.where(np.isnan(s), -np.inf, s)


def _window_rows(ts: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    if not len(windows):
        return np.empty((0, 2), dtype=np.int64)
    starts = _naive_utc([w[0] for w in windows])
    ends = _naive_utc([w[1] for w in windows])
    order = np.argsort(starts, kind="stable")
    left = np.searchsorted(ts, starts[order], side="left")
    right = np.searchsorted(ts, ends[order], side="right") - 1
    empty = np.flatnonzero(left > right)
    if empty.size:
        w = windows[order[empty[0]]]
        raise ValueError(f"window {w[0]} .. {w[1]} covers no row of the file")
    if np.any(left[1:] <= right[:-1]):
        raise ValueError("windows overlap")
    return np.column_stack([left, right])


def _time_order(timestamps: Column, scores: Column) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and scores in time order (a stable sort: repeated timestamps keep file order).

    Real files are not always sorted (NAB's machine_temperature_system_failure.csv has one row out
    of order); every row keeps its own score, and windows are found by time."""
    ts = _naive_utc(timestamps)
    sc = np.asarray(scores)
    if np.any(ts[1:] < ts[:-1]):
        order = np.argsort(ts, kind="stable")
        return ts[order], sc[order] if sc.shape == ts.shape else sc
    return ts, sc


def _layout(timestamps: Column, windows: Sequence[Window]) -> _Layout:
    ts = _naive_utc(timestamps)
    if np.any(ts[1:] < ts[:-1]):
        raise ValueError("timestamps are not in increasing order")
    n = len(ts)
    start = min(math.floor(PROBATION_SHARE * n), PROBATION_CAP)
    bounds = _window_rows(ts, windows)
    left, right = bounds[:, 0], bounds[:, 1]
    width = right - left + 1
    i = np.arange(n)

    # the window starting at or before row i, if i is still inside it
    k = np.searchsorted(left, i, side="right") - 1
    inside = i <= np.append(right, -1)[k]  # k = -1 (no window yet) picks the sentinel
    kin = k[inside]
    tp_value = np.zeros(n)
    tp_value[inside] = sigmoid(-(right[kin] - i[inside] + 1) / width[kin]) / _SIGMOID_LEFT_EDGE

    # outside: measured from the most recent window that has already ended
    out = ~inside
    fp_value = np.zeros(n)
    fp_value[out] = -1.0  # before any window has ended: the worst case
    p = np.searchsorted(right, i[out], side="left") - 1
    after = p >= 0
    if after.any():
        prev = p[after]
        # a one-row window would divide by zero in NAB; its width - 1 is taken as 1
        y = (i[out][after] - right[prev]) / np.maximum(width[prev] - 1, 1)
        fp_value[np.flatnonzero(out)[after]] = np.where(y > FAR_AFTER, -1.0, sigmoid(y))

    # NAB gives probation rows no window, so a window lying wholly inside probation is not scored
    return _Layout(start, bounds[right >= start], inside, tp_value, fp_value)


def _score(lay: _Layout, scores: np.ndarray, threshold: float, profile: Profile) -> FileScore:
    n = len(scores)
    det = scores >= threshold
    det[: lay.start] = False
    fp_rows = det & ~lay.inside
    fp_sum = profile.A_FP * lay.fp_value[fp_rows].sum()
    # earliest detection in each window = the next detection at or after its left edge
    nxt = np.minimum.accumulate(np.where(det, np.arange(n), n)[::-1])[::-1]
    first = nxt[lay.bounds[:, 0]]
    hit = first <= lay.bounds[:, 1]
    window_sum = profile.A_TP * lay.tp_value[first[hit]].sum() - profile.A_FN * int((~hit).sum())
    return FileScore(float(window_sum + fp_sum), int(hit.sum()), int((~hit).sum()), int(fp_rows.sum()))


def score_file(timestamps: Column, scores: Column, windows: Sequence[Window], threshold: float,
               profile: Profile = STANDARD) -> FileScore:
    """Raw NAB score of one file: detections are rows past probation with score >= threshold."""
    timestamps, scores = _time_order(timestamps, scores)
    lay = _layout(timestamps, windows)
    return _score(lay, _scores(scores, len(lay.inside)), threshold, profile)


def _prepare(files: Mapping[str, ScoredSeries], windows: Mapping[str, Sequence[Window]]):
    if not files:
        raise ValueError("no files to score")
    missing = [name for name in files if name not in windows]
    if missing:
        raise KeyError(f"no label entry for {missing[0]!r} ({len(missing)} file(s) unlabeled)")
    out = {}
    for name, (ts, sc) in files.items():
        ts, sc = _time_order(ts, sc)
        try:
            lay = _layout(ts, windows[name])
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        out[name] = (lay, _scores(sc, len(lay.inside)))
    return out


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    """100 × (S − S_null)/(S_perfect − S_null); NaN when there are no windows to score."""
    null, perfect = -profile.A_FN * n_windows, profile.A_TP * n_windows
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")


def _corpus(prepared, threshold: float, profile: Profile) -> CorpusScore:
    per = {name: _score(lay, sc, threshold, profile) for name, (lay, sc) in prepared.items()}
    raw = float(sum(f.raw for f in per.values()))
    tp, fn, fp = (sum(getattr(f, a) for f in per.values()) for a in ("tp", "fn", "fp"))
    return CorpusScore(raw, normalise(raw, tp + fn, profile), float(threshold), profile, tp, fn, fp, per)


def score_corpus(files: Mapping[str, ScoredSeries], windows: Mapping[str, Sequence[Window]],
                 threshold: float, profile: Profile = STANDARD) -> CorpusScore:
    """Score every file at one threshold; `files` maps a labeled name to (timestamps, scores)."""
    return _corpus(_prepare(files, windows), threshold, profile)


def _curve(prepared, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    # Lowering the threshold past a row's score switches that row on. Each row contributes an
    # event (key = its score, delta = change in raw score): an FP row adds its cost; inside a
    # window only rows that beat every earlier score in the window ("records") change the window
    # term. Records rise in score along the window, so the last one fires first (−A_FN to its
    # value) and each earlier one then takes over from the record after it. Summing the events
    # with key >= t gives the raw score at every candidate t at once.
    keys, deltas, all_scores, n_windows = [], [], [], 0
    for lay, sc in prepared.values():
        all_scores.append(sc)
        fp_rows = ~lay.inside
        fp_rows[: lay.start] = False
        keys.append(sc[fp_rows])
        deltas.append(profile.A_FP * lay.fp_value[fp_rows])
        for left, right in lay.bounds:  # few windows; the work inside is vectorised
            a = max(left, lay.start)
            s = sc[a : right + 1]
            before = np.concatenate([[-np.inf], np.maximum.accumulate(s)[:-1]])
            rec = s > before
            values = profile.A_TP * lay.tp_value[a : right + 1][rec]
            keys.append(s[rec])
            deltas.append(values - np.append(values[1:], -profile.A_FN))
            n_windows += 1
    key, delta = np.concatenate(keys), np.concatenate(deltas)
    order = np.argsort(key, kind="stable")
    key, delta = key[order], delta[order]
    above = np.concatenate([np.cumsum(delta[::-1])[::-1], [0.0]])  # above[j] = sum of delta[j:]
    scores = np.concatenate(all_scores)
    # candidates: every distinct finite score, high to low, after "never fire" (+inf)
    candidates = np.concatenate([[np.inf], np.unique(scores[np.isfinite(scores)])[::-1]])
    raw = -profile.A_FN * n_windows + above[np.searchsorted(key, candidates, side="left")]
    return candidates, raw


def threshold_curve(files: Mapping[str, ScoredSeries], windows: Mapping[str, Sequence[Window]],
                    profile: Profile = STANDARD) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score at every candidate threshold (+inf, then distinct scores high to low)."""
    return _curve(_prepare(files, windows), profile)


def best_threshold(files: Mapping[str, ScoredSeries], windows: Mapping[str, Sequence[Window]],
                   profile: Profile = STANDARD) -> CorpusScore:
    """NAB's optimiser: the corpus score at the threshold with the highest raw score.

    Ties go to the highest threshold, as in NAB; +inf means never firing beats every threshold.
    """
    prepared = _prepare(files, windows)
    candidates, raw = _curve(prepared, profile)
    return _corpus(prepared, float(candidates[int(np.argmax(raw))]), profile)
