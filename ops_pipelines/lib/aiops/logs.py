"""Log anomalies per line: severity first, then each template's own learned rate.

Every line gets a verdict that uses only lines at or before it:
- `critical`: a CRITICAL/FATAL line is an alert at any rate, unless it is one field of a diagnostic
  dump (`dump_field`: context of the event that printed it) or reports a caller error (missing or
  forbidden file, invalid argument: judged as an ERROR below). See `log_rules`.
- `burst`: WARN and ERROR lines are judged by the rate of their (service, template, level): the
  lines in the trailing `window_minutes` against the largest of three expectations: a long-run
  rate (Gamma-Poisson with a weak prior, forgetting with a half-life of days), a recent rate (an
  exponential kernel over the last hour, which follows a trickle through the daily cycle) and the
  same time of day on recent days (the median of the last 3 observed days, so a daily job is
  learned and a one-day incident is not). Lines of a burst teach neither rate, so a routine
  trickle is learned and bursts stay visible. A burst alerts once, at its onset; every line while
  the rate stays high is marked `in_burst` (evidence for incidents, not a new alert).
- `level`: DEBUG and INFO lines are never alerts on their own, new template or not.
All memory is in `LogDetectorState` (per key: a few numbers, the minute counts inside the window
and 3 x 48 slot counts), so scoring day by day with the state carried over equals one pass.
"""

from __future__ import annotations

import functools
import json
import math
import zipfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.log_rules import CRITICAL, WARN, is_caller_error, is_dump_field, severity
from ops_pipelines.lib.aiops.log_templates import MinedLogs
from ops_pipelines.lib.aiops.state_store import npy_bytes, read_npy_members, write_zip_atomic

COLUMNS = ["timestamp", "service", "host", "level", "template_id", "template", "message", "count", "baseline",
           "score", "kind", "is_anomaly", "in_burst", "reason"]
KINDS = ("critical", "dump_field", "burst", "level")
_DAY = 1440
_NS_PER_MINUTE = 60_000_000_000
_SEASON_DAYS = 3  # the seasonal expectation is the median of this many recent observed days


@dataclass(frozen=True)
class LogDetectorParams:
    """One default for every (service, template, level); nothing is tuned per series."""

    window_minutes: int = 10  # lines counted in the trailing window (current minute included)
    threshold: float = 4.0  # z on the square-root scale with score 0.5 (z^2 / (z^2 + threshold^2))
    prior_lines: float = 1.0  # a never-seen key is expected at prior_lines per prior_minutes ...
    prior_minutes: float = 1440.0  # ... (one line a day) until its own history outweighs that
    halflife_days: float = 7.0  # forgetting of the long-run rate
    recent_minutes: float = 60.0  # time constant of the recent rate
    slot_minutes: int = 30  # seasonal slots (48 a day)
    dispersion: float = 0.02  # extra-Poisson variance, var = mu + dispersion * mu^2
    warmup_minutes: int = _DAY  # from the first line scored: rates learn, no burst alerts (critical still alert)

    def __post_init__(self) -> None:
        if not 1 <= self.window_minutes <= self.slot_minutes or _DAY % self.slot_minutes:
            raise ValueError("window_minutes must be 1..slot_minutes, and slot_minutes must divide a day")


@dataclass
class LogDetectorState:
    """Rate memory per key (service, template_id, level); every list aligns with `keys`."""

    keys: list[tuple[str, int, str]] = field(default_factory=list)
    taught: list[float] = field(default_factory=list)  # decayed count of the lines that taught the rate
    exposure: list[float] = field(default_factory=list)  # decayed minutes observed
    recent_rate: list[float] = field(default_factory=list)  # lines per minute, exponential kernel
    last_ns: list[int] = field(default_factory=list)  # time of the key's last line
    in_burst: list[bool] = field(default_factory=list)
    flagged_ns: list[int] = field(default_factory=list)  # time of the last burst alert
    recent: list[deque] = field(default_factory=list)  # [epoch minute, lines, lines that teach] in the window
    season: list[np.ndarray] = field(default_factory=list)  # lines per slot on the last observed days, newest first
    today: list[np.ndarray] = field(default_factory=list)  # lines per slot on the current day
    start_ns: int | None = None  # first line scored: the warm-up counts from here
    last_line_ns: int | None = None
    current_day: int | None = None  # epoch day that `today` counts
    _lookup: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _median: list = field(default_factory=list, init=False, repr=False, compare=False)  # per slot, of `season`

    def __post_init__(self) -> None:
        self._lookup = {k: i for i, k in enumerate(self.keys)}
        self._median = [np.median(days, axis=0).tolist() for days in self.season]

    def index(self, key: tuple[str, int, str], slots: int) -> int:
        """Row of `key`, adding a fresh one (no history) on first sight."""
        i = self._lookup.get(key)
        if i is None:
            i = self._lookup[key] = len(self.keys)
            self.keys.append(key)
            for name, value in (("taught", 0.0), ("exposure", 0.0), ("recent_rate", 0.0), ("last_ns", -1),
                                ("in_burst", False), ("flagged_ns", -1)):
                getattr(self, name).append(value)
            self.recent.append(deque())
            self.season.append(np.zeros((_SEASON_DAYS, slots)))
            self.today.append(np.zeros(slots))
            self._median.append([0.0] * slots)
        return i


def score_logs(mined: MinedLogs, state: LogDetectorState | None = None,
               params: LogDetectorParams = LogDetectorParams()) -> tuple[pd.DataFrame, LogDetectorState]:
    """One row per mined line (columns `COLUMNS`, time order) with its verdict; the new state.

    `mined` must not start before the state's last line (scoring moves forward in time).
    """
    state = _copy(state) if state is not None else LogDetectorState()
    lines = mined.lines
    if lines.empty:
        return _frame(lines, {}), state
    ts = lines["timestamp"].array.asi8
    if state.last_line_ns is not None and ts[0] < state.last_line_ns:
        raise ValueError(f"log rows start at {lines['timestamp'].iloc[0]}, before the detector state's last line "
                         f"({pd.Timestamp(state.last_line_ns, tz='UTC')}): scoring must move forward in time")
    if state.start_ns is None:
        state.start_ns = int(ts[0])
    out, rank, caller = _verdicts_by_wording(lines)
    days = ts // (_NS_PER_MINUTE * _DAY)
    day_list = np.unique(days).tolist()
    services, templates, levels = (lines[c].to_numpy(dtype=object) for c in ("service", "template_id", "level"))
    slots, next_day = _DAY // params.slot_minutes, 0
    for i in np.flatnonzero(rank >= WARN).tolist():
        while next_day < len(day_list) and day_list[next_day] <= days[i]:
            _start_day(state, day_list[next_day])
            next_day += 1
        key = (str(services[i]), int(templates[i]), str(levels[i]))
        judged_by_rate = rank[i] < CRITICAL or caller[i]
        _judge(state, state.index(key, slots), i, int(ts[i]), key[2] if caller[i] else "", not judged_by_rate,
               out, params)
    for day in day_list[next_day:]:
        _start_day(state, day)
    state.last_line_ns = int(ts[-1])
    return _frame(lines, out), state


def _verdicts_by_wording(lines: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Verdicts that need no rate (critical, dump field, below WARN), each line's severity rank, and
    which CRITICAL lines are caller errors (judged by rate as ERROR); rate-judged rows start empty."""
    n, level = len(lines), lines["level"].astype(str)
    rank = severity(level)
    critical = rank >= CRITICAL
    dump, caller = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if critical.any():
        dump[critical] = is_dump_field(lines.loc[critical, "message"])
        caller[critical & ~dump] = is_caller_error(lines.loc[critical & ~dump, "message"])
    alert = critical & ~dump & ~caller
    by_level = critical & ~caller
    reason = np.where(dump, level + " dump field (a name and a value): context of the event that printed it",
                      level + " line: an alert at any rate")
    out = {
        "count": np.zeros(n, dtype=np.int64), "baseline": np.zeros(n), "score": np.where(alert, 1.0, 0.0),
        "kind": np.where(by_level, np.where(dump, "dump_field", "critical"),
                         np.where(rank >= WARN, "burst", "level")).astype(object),
        "is_anomaly": alert, "in_burst": np.zeros(n, dtype=bool),
        "reason": np.where(by_level, reason, level + ": below WARN, not an alert on its own").astype(object),
    }
    return out, rank, caller


def _start_day(state: LogDetectorState, day: int) -> None:
    """A new day with lines: fold the finished day's slot counts into the seasonal memory."""
    if state.current_day is not None and day != state.current_day:
        for k, done in enumerate(state.today):
            state.season[k] = np.vstack([done[None, :], state.season[k][:-1]])
            state.today[k] = np.zeros_like(done)
            state._median[k] = np.median(state.season[k], axis=0).tolist()
    state.current_day = day


def _judge(state: LogDetectorState, k: int, i: int, t_ns: int, caller: str, critical: bool, out: dict,
           params: LogDetectorParams) -> None:
    """Count, expectation and verdict of line `i` of key `k`; update the key's memory."""
    count = _count_in_window(state, k, t_ns, params)
    expected = _expected(state, k, t_ns // _NS_PER_MINUTE, params)
    z = 2.0 * (math.sqrt(count + 0.375) - math.sqrt(expected + 0.375)) / math.sqrt(1.0 + params.dispersion * expected)
    out["count"][i], out["baseline"][i] = count, expected
    warm = t_ns - state.start_ns >= params.warmup_minutes * _NS_PER_MINUTE
    high = warm and z >= params.threshold
    if not high:  # bursts do not teach: a routine trickle is learned, an outbreak is not
        state.recent[k][-1][2] += 1
    if critical:  # verdict already given; the rate is tracked for its count and baseline only
        return
    out["score"][i] = z * z / (z * z + params.threshold ** 2) if z > 0 else 0.0
    prefix = f"{caller} caller error, judged as ERROR: " if caller else ""
    what = f"{count} lines in {params.window_minutes} min, {expected:.2f} expected"
    if state.in_burst[k] and z < params.threshold / 2:
        state.in_burst[k] = False  # hysteresis: a burst ends when it is clearly back near normal
    if high and not state.in_burst[k]:
        state.in_burst[k], state.flagged_ns[k] = True, t_ns
        out["is_anomaly"][i], out["in_burst"][i] = True, True
        out["reason"][i] = f"{prefix}burst: {what}"
    elif state.in_burst[k]:
        out["in_burst"][i] = True
        out["reason"][i] = f"{prefix}inside the burst alerted at {_minute_text(state.flagged_ns[k])}: {what}"
    else:
        out["reason"][i] = prefix + ("warm-up, learning rates: " if not warm else "within its learned rate: ") + what


@functools.lru_cache(maxsize=1024)
def _minute_text(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _count_in_window(state: LogDetectorState, k: int, t_ns: int, params: LogDetectorParams) -> int:
    """Decay key `k`'s rates to `t_ns`, add the line to its window and return the window's count."""
    halflife = params.halflife_days * _DAY
    if state.last_ns[k] >= 0:
        gap = (t_ns - state.last_ns[k]) / _NS_PER_MINUTE
        decay = 0.5 ** (gap / halflife)
        state.taught[k] *= decay
        state.exposure[k] = state.exposure[k] * decay + halflife / math.log(2) * (1.0 - decay)
        state.recent_rate[k] *= math.exp(-gap / params.recent_minutes)
    state.last_ns[k] = t_ns
    # Minutes teach the rates when they leave the window, so a burst's first lines never raise
    # the expectation they are judged against.
    minute, now, recent = t_ns // _NS_PER_MINUTE, t_ns / _NS_PER_MINUTE, state.recent[k]
    while recent and recent[0][0] <= minute - params.window_minutes:
        left, _, taught = recent.popleft()
        age = now - (left + 0.5)
        state.taught[k] += taught * 0.5 ** (age / halflife)
        state.recent_rate[k] += taught / params.recent_minutes * math.exp(-age / params.recent_minutes)
    if not recent or recent[-1][0] != minute:
        recent.append([minute, 0, 0])
    recent[-1][1] += 1
    state.today[k][minute % _DAY // params.slot_minutes] += 1
    return sum(n for _, n, _ in recent)


def _expected(state: LogDetectorState, k: int, minute: int, params: LogDetectorParams) -> float:
    """Lines expected in the window: the largest of the long-run, recent and seasonal expectations."""
    long_run = (params.prior_lines + state.taught[k]) / (params.prior_minutes + state.exposure[k])
    # Seasonal: each window minute at its own slot's rate (the window spans at most two slots).
    median = state._median[k]
    slot = minute % _DAY // params.slot_minutes
    in_slot = min(params.window_minutes, minute % params.slot_minutes + 1)
    seasonal = in_slot * median[slot] + (params.window_minutes - in_slot) * median[slot - 1]
    return max(max(long_run, state.recent_rate[k]) * params.window_minutes, seasonal / params.slot_minutes)


def _frame(lines: pd.DataFrame, out: dict) -> pd.DataFrame:
    if lines.empty:
        return pd.DataFrame({
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"), **{c: pd.Series(dtype=object) for c in
            ("service", "host", "level", "template", "message", "kind", "reason")},
            "template_id": np.array([], dtype=np.int64), "count": np.array([], dtype=np.int64),
            "baseline": np.array([], dtype=float), "score": np.array([], dtype=float),
            "is_anomaly": np.array([], dtype=bool), "in_burst": np.array([], dtype=bool)})[COLUMNS]
    frame = pd.DataFrame({
        "timestamp": lines["timestamp"].to_numpy(),
        "service": lines["service"].astype(str).to_numpy(dtype=object),
        "host": (lines["host"].astype(object).where(lines["host"].notna(), "").astype(str).to_numpy(dtype=object)
                 if "host" in lines else np.full(len(lines), "", dtype=object)),
        "level": lines["level"].astype(str).to_numpy(dtype=object),
        "template_id": lines["template_id"].to_numpy(dtype=np.int64),
        "template": lines["template"].to_numpy(dtype=object),
        "message": lines["message"].astype(str).to_numpy(dtype=object),
        **out,
    })
    return frame[COLUMNS]


def _copy(state: LogDetectorState) -> LogDetectorState:
    return LogDetectorState(
        list(state.keys), list(state.taught), list(state.exposure), list(state.recent_rate), list(state.last_ns),
        list(state.in_burst),
        list(state.flagged_ns), [deque(list(b) for b in r) for r in state.recent],
        [s.copy() for s in state.season], [t.copy() for t in state.today], state.start_ns, state.last_line_ns,
        state.current_day)


def save_detector_state(state: LogDetectorState, path: Path) -> None:
    """Write the detector state as a zip of .npy arrays and a JSON header (no pickle, reproducible)."""
    meta = {"start_ns": state.start_ns, "last_line_ns": state.last_line_ns, "current_day": state.current_day}
    slots = len(state.today[0]) if state.today else _DAY // LogDetectorParams().slot_minutes
    owner = [k for k, r in enumerate(state.recent) for _ in r]
    pairs = [p for r in state.recent for p in r]
    arrays = {
        "key_service": np.asarray([s for s, _, _ in state.keys], dtype=np.str_),
        "key_template": np.asarray([t for _, t, _ in state.keys], dtype=np.int64),
        "key_level": np.asarray([lv for _, _, lv in state.keys], dtype=np.str_),
        "taught": np.asarray(state.taught, dtype=np.float64), "exposure": np.asarray(state.exposure, dtype=np.float64),
        "recent_rate": np.asarray(state.recent_rate, dtype=np.float64),
        "last_ns": np.asarray(state.last_ns, dtype=np.int64), "in_burst": np.asarray(state.in_burst, dtype=bool),
        "flagged_ns": np.asarray(state.flagged_ns, dtype=np.int64),
        "recent_key": np.asarray(owner, dtype=np.int64),
        "recent_minute": np.asarray([m for m, _, _ in pairs], dtype=np.int64),
        "recent_count": np.asarray([n for _, n, _ in pairs], dtype=np.int64),
        "recent_taught": np.asarray([t for _, _, t in pairs], dtype=np.int64),
        "season": np.asarray(state.season, dtype=np.float64).reshape(len(state.keys), _SEASON_DAYS, slots),
        "today": np.asarray(state.today, dtype=np.float64).reshape(len(state.keys), slots),
    }
    members = {"meta.json": json.dumps(meta, sort_keys=True).encode()}
    members.update({f"{name}.npy": npy_bytes(array) for name, array in arrays.items()})
    write_zip_atomic(path, members)


def load_detector_state(path: Path, params: LogDetectorParams = LogDetectorParams()) -> LogDetectorState:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("meta.json")) if "meta.json" in names else {}
    a = read_npy_members(path)
    if "last_line_ns" not in meta or a["season"].shape[1:] != (_SEASON_DAYS, _DAY // params.slot_minutes):
        raise ValueError(f"{path} was written by another log detector version or slot setting; delete the "
                         "log_anomalies state folder to start over")
    recent = [deque() for _ in range(len(a["taught"]))]
    for k, m, n, t in zip(*(a[f"recent_{c}"].tolist() for c in ("key", "minute", "count", "taught"))):
        recent[k].append([m, n, t])
    return LogDetectorState(
        list(zip(a["key_service"].tolist(), a["key_template"].tolist(), a["key_level"].tolist())),
        a["taught"].tolist(), a["exposure"].tolist(), a["recent_rate"].tolist(), a["last_ns"].tolist(),
        a["in_burst"].tolist(),
        a["flagged_ns"].tolist(), recent, list(a["season"]), list(a["today"]),
        meta["start_ns"], meta["last_line_ns"], meta["current_day"])
