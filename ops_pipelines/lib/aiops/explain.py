"""Why an episode may not be news: warm-up, a recurring pattern, a change, a traffic event.

Each rule looks at robust properties (when a series first appeared, what happened at the same
time on earlier days, which change preceded the episode on the same service, how many services'
traffic rose together), never at the detector's score, so it holds whatever detector runs below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.episodes import SeriesValues
from ops_pipelines.lib.aiops.topology import Topology

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ExplainParams:
    """Settings of the explanation rules (chosen on sample-world seed 7; docs/aiops.md)."""

    warm_up: pd.Timedelta = pd.Timedelta(days=3)  # after a series first appears: low confidence ...
    warm_strong_ratio: float = 2.0  # ... unless errors rose or the value moved this much (x or 1/x)
    lookback_days: int = 7  # how far back recurring patterns are looked for
    recurring_days: int = 2  # earlier days with a similar episode at the same time make it expected
    recurring_job_days: int = 1  # ... or with a logged job run of the same service at that time
    recurring_window: pd.Timedelta = pd.Timedelta(minutes=45)  # "the same time of day", either side
    job_reach_hops: int = 2  # callers this close to a job's service feel it too
    change_before: pd.Timedelta = pd.Timedelta(minutes=5)  # an episode may start this long before a change ...
    change_after: pd.Timedelta = pd.Timedelta(minutes=30)  # ... or this long after it ends, and follow it
    traffic_rise: float = 1.15  # a service's traffic rose when it is this much above the hour before
    traffic_min_share: float = 0.4  # of the services with traffic series ...
    traffic_min_services: int = 3  # ... and at least this many
    load_max_ratio: float = 1.8  # latency/saturation rising more than this is saturation, not load


def warm_up(eps: pd.DataFrame, first_seen: dict[str, pd.Timestamp], params: ExplainParams) -> np.ndarray:
    """True where the episode's series (or, for logs, its service's logs) appeared less than
    `warm_up` before the episode: the detector has not learned it yet."""
    out = np.zeros(len(eps), dtype=bool)
    for i, (svc, sig, host, start) in enumerate(zip(eps["service"], eps["signal"], eps["host"], eps["start"])):
        key = series_key(str(svc), str(sig), str(host))
        seen = first_seen.get(key)
        out[i] = seen is not None and start < seen + params.warm_up
    return out


def strong(eps: pd.DataFrame, params: ExplainParams) -> np.ndarray:
    """Evidence clear enough to trust from a series still warming up: an error log burst, or a
    move by a factor of `warm_strong_ratio` against the hour before (a daily ramp the detector has
    not learned yet moves far less within an hour)."""
    ratio = eps["ratio"].astype(float)
    big = (ratio >= params.warm_strong_ratio) | (ratio <= 1.0 / params.warm_strong_ratio)
    # Error log templates: the log detector has its own warm-up; an error metric must move as much as any.
    error_logs = (eps["signal_class"] == "errors") & eps["signal"].astype(str).str.startswith("logs:")
    return (error_logs | big).to_numpy()


def series_key(service: str, signal: str, host: str) -> str:
    """Key of a series in first-seen tables; every log template of a service shares one."""
    return f"{service}|logs|" if signal.startswith("logs:") else f"{service}|{signal}|{host}"


def first_seen_of(values: SeriesValues, log_events: pd.DataFrame | None, known: dict[str, pd.Timestamp]) -> dict[str, pd.Timestamp]:
    """`known` plus the first point of every series not in it (metrics and, per service, logs)."""
    out = dict(known)
    for (svc, metric, host), t in values.first_seen().items():
        out.setdefault(series_key(svc, metric, host), pd.Timestamp(t, tz="UTC"))
    if log_events is not None and len(log_events):
        for svc, t in log_events.groupby("service", observed=True)["timestamp"].min().items():
            out.setdefault(series_key(str(svc), "logs:", ""), pd.Timestamp(t))
    return out


def unobserved(topology: Topology, first_seen: dict[str, pd.Timestamp]) -> dict[str, str]:
    """Topology nodes of kind `service` with no telemetry at all so far: as good as third parties
    (a topology file without kinds still gets its external providers inferred from their callers)."""
    observed = {key.split("|", 1)[0] for key in first_seen}
    return {s: "third_party" for s in topology.services if s not in observed and topology.kind(s) == "service"}


def recurring(eps: pd.DataFrame, history: pd.DataFrame, job_windows: pd.DataFrame, topology: Topology,
              params: ExplainParams) -> list[str]:
    """Per episode "" or why it is expected at this time of day: "recurring" (the same service and
    kind of signal moved at this time on `recurring_days` earlier days) or "job:<service>" (inside a
    run of a job logged at this time on earlier days, on the job's service or a close caller)."""
    window = params.recurring_window.total_seconds() / 60
    jobs = _Jobs(job_windows, params, window)
    # History grouped once by (service, signal class): per episode only its own series' past is scanned,
    # so the cost grows with the episodes, not with episodes x history (2,000 services: 10^5 x 10^6).
    groups = history.groupby(["service", "signal_class"], sort=False).indices if len(history) else {}
    starts = _ns(history["start"])
    out = []
    for ep in eps.itertuples():
        why = jobs.explain(ep, topology) if len(job_windows) else ""
        idx = groups.get((ep.service, ep.signal_class))
        if not why and idx is not None and _days_at_this_time(starts[idx], ep.start.value, window, params) >= params.recurring_days:
            why = "recurring"
        out.append(why)
    return out


def _ns(times: pd.Series) -> np.ndarray:
    """Epoch nanoseconds (UTC) of a column of timestamps, whatever its unit (an empty object column too)."""
    return pd.to_datetime(times, utc=True).dt.as_unit("ns").array.asi8


def _days_at_this_time(starts: np.ndarray, t: int, window: float, params: ExplainParams) -> int:
    """Earlier days (20 h to `lookback_days` before `t`, epoch ns) with a start within `window` minutes of
    `t`'s time of day, around the clock."""
    earlier = starts[(starts <= t - pd.Timedelta(hours=20).value) & (starts >= t - (params.lookback_days * DAY).value)]
    gap = np.abs(earlier // 60_000_000_000 % 1440 - t // 60_000_000_000 % 1440)
    return np.unique(earlier[np.minimum(gap, 1440 - gap) <= window] // DAY.value).size


class _Jobs:
    """Job runs logged in change windows, and whether each recurs at its time of day (asked once per run)."""

    def __init__(self, jobs: pd.DataFrame, params: ExplainParams, window: float) -> None:
        self.params, self.window = params, window
        self.services = jobs["service"].to_numpy(dtype=object)
        self.start, self.end = _ns(jobs["start"]), _ns(jobs["end"])
        self._recurs: dict[int, bool] = {}

    def explain(self, ep, topology: Topology) -> str:
        """"job:<service>" when the episode falls in a recurring job's run on its service or one it calls."""
        p, t = self.params, ep.start.value
        inside = np.flatnonzero((self.start - p.change_before.value <= t) & (t <= self.end + p.change_after.value))
        for i in inside.tolist():
            service = self.services[i]
            hops = 0 if service == ep.service else topology.depends_on(ep.service, service)
            if hops is None or hops > p.job_reach_hops:
                continue
            if self._recurring(i):
                return f"job:{service}"
        return ""

    def _recurring(self, i: int) -> bool:
        if i not in self._recurs:
            same_job = self.start[self.services == self.services[i]]
            self._recurs[i] = (_days_at_this_time(same_job, int(self.start[i]), self.window, self.params)
                               >= self.params.recurring_job_days)
        return self._recurs[i]


def following_change(eps: pd.DataFrame, changes: pd.DataFrame, params: ExplainParams) -> list[int]:
    """Per episode, the row of `changes` (windows) on the same service that it follows, or -1."""
    if not len(changes):
        return [-1] * len(eps)
    labels = changes.index.to_numpy()
    lo = _ns(changes["start"]) - params.change_before.value
    hi = _ns(changes["end"]) + params.change_after.value
    by_service, none = changes.groupby("service", sort=False).indices, np.empty(0, dtype=np.intp)
    out = []
    for ep in eps.itertuples():
        rows, t = by_service.get(ep.service, none), ep.start.value
        hit = rows[(lo[rows] <= t) & (t <= hi[rows])]
        out.append(int(labels[hit[-1]]) if len(hit) else -1)  # the latest such change
    return out


def traffic_events(eps: pd.DataFrame, values: SeriesValues, params: ExplainParams) -> list[dict]:
    """Broad, coherent rises in traffic: windows where a traffic-up episode coincides with most
    services' traffic rising against the hour before. Each: start, end, services (that rose)."""
    ups = eps[(eps["signal_class"] == "traffic") & (eps["direction"] == "up")].sort_values("start")
    traffic_series = [k for k in values.keys() if _is_traffic(k[1])]
    services = sorted({k[0] for k in traffic_series})
    events: list[dict] = []
    for ep in ups.itertuples():
        if any(e["start"] <= ep.start <= e["end"] for e in events):
            continue
        probe_start = ep.start - pd.Timedelta(minutes=10)
        rose = set()
        for svc, metric, host in traffic_series:
            ratio = values.ratio(svc, metric, host, probe_start, ep.end + pd.Timedelta(minutes=20))
            if ratio >= params.traffic_rise:
                rose.add(svc)
        if len(rose) >= max(params.traffic_min_services, params.traffic_min_share * len(services)):
            members = ups[ups["service"].isin(rose) & (ups["start"] <= ep.end + pd.Timedelta(hours=1))
                          & (ups["start"] >= probe_start)]
            end = max(members["end"].max(), ep.end) + pd.Timedelta(minutes=15)
            events.append({"start": probe_start, "end": end, "services": sorted(rose)})
    return events


def _is_traffic(metric: str) -> bool:
    from ops_pipelines.lib.aiops.episodes import signal_class

    return signal_class(metric) == "traffic"


def load_following(eps: pd.DataFrame, events: list[dict], topology: Topology, params: ExplainParams) -> np.ndarray:
    """Episodes a traffic event explains: inside the event, on a service whose traffic rose or one
    they call (a database feels its callers' demand), and only more load (traffic, log volume, or
    latency / saturation up by less than `load_max_ratio`); errors are never explained by load."""
    mild = (eps["signal_class"].isin(["traffic", "log_volume"]) | (
        eps["signal_class"].isin(["latency", "saturation", "other"]) & ~(eps["ratio"] > params.load_max_ratio))).to_numpy()
    out = np.zeros(len(eps), dtype=bool)
    for e in events:
        reached = set(e["services"]).union(*(topology.descendants(s) for s in e["services"]))
        inside = (eps["start"] >= e["start"]) & (eps["start"] <= e["end"]) & eps["service"].isin(reached)
        out |= inside.to_numpy() & mild
    return out


def own_load(eps: pd.DataFrame, params: ExplainParams) -> np.ndarray:
    """Latency or saturation rising modestly while the same service's traffic is flagged rising
    too (an evening peak the detector has not seen on this weekday yet): more load, not a fault,
    even when too few services rose for a traffic event."""
    ups = eps[(eps["signal_class"] == "traffic") & (eps["direction"] == "up")]
    modest = (eps["signal_class"].isin(["latency", "saturation", "other"]) & (eps["ratio"] < params.load_max_ratio)).to_numpy()
    out = np.zeros(len(eps), dtype=bool)
    margin = pd.Timedelta(minutes=15).value
    up_start, up_end = _ns(ups["start"]), _ns(ups["end"])
    by_service = ups.groupby("service", sort=False).indices if len(ups) else {}
    for i, ep in enumerate(eps.itertuples()):
        mine = by_service.get(ep.service) if modest[i] else None
        if mine is not None:
            out[i] = bool(((up_start[mine] <= ep.end.value + margin) & (up_end[mine] >= ep.start.value - margin)).any())
    return out


def mentions(logs: pd.DataFrame | None, names: list[str]) -> pd.DataFrame:
    """Warning and error log lines that name one of `names` (third parties): timestamp, service
    (who logged it), target. A caller's errors naming its provider point at the provider."""
    empty = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "service": pd.Series(dtype=object),
                          "target": pd.Series(dtype=object)})
    if logs is None or logs.empty or not names:
        return empty
    import pyarrow as pa
    import pyarrow.compute as pc

    severe = logs[logs["level"].astype(str).str.upper().str.startswith(("WARN", "ERR", "CRIT", "FATAL"))]
    if severe.empty:
        return empty
    text = pa.array(severe["message"].astype(str).to_numpy(dtype=object), type=pa.string())
    parts = []
    for name in names:
        hit = pc.match_substring(text, name, ignore_case=True).to_numpy(zero_copy_only=False).astype(bool)
        if hit.any():
            parts.append(pd.DataFrame({"timestamp": severe["timestamp"].to_numpy()[hit],
                                       "service": severe["service"].astype(str).to_numpy()[hit], "target": name}))
    return pd.concat(parts, ignore_index=True) if parts else empty
