"""One day of incident correlation, exactly as the `incidents` asset runs it (the benchmark too).

Day D correlates the anomalies, log lines and changes of D-1 and D (an incident across midnight
stays one), continues from the context the previous day left, and reports what reaches into D.
"""

from __future__ import annotations

import pandas as pd

from ops_pipelines.lib.aiops.changes import ChangePatterns, changes_from_logs, changes_from_records, combine, windows
from ops_pipelines.lib.aiops.context import IncidentContext
from ops_pipelines.lib.aiops.incidents import Correlation, CorrelationParams, all_events, correlate_all
from ops_pipelines.lib.aiops.topology import Topology


def day_changes(change_records: pd.DataFrame | None, service_logs: pd.DataFrame | None, patterns: ChangePatterns) -> pd.DataFrame:
    """Change events of the `changes` landing kind and of log lines matching the patterns."""
    records = change_records if change_records is not None and len(change_records) else None
    logs = service_logs if service_logs is not None and len(service_logs) else None
    return combine(changes_from_records(records), changes_from_logs(logs, patterns))


def correlate_day(day: str, metric_anomalies: pd.DataFrame, log_anomalies: pd.DataFrame, service_logs: pd.DataFrame | None,
                  changes: pd.DataFrame, topology: Topology, rules: list[dict], patterns: ChangePatterns,
                  context: IncidentContext | None = None, params: CorrelationParams = CorrelationParams(),
                  events: pd.DataFrame | None = None) -> tuple[Correlation, IncidentContext]:
    """Incidents and annotations reaching into `day` (inputs cover the day before too), and the
    context to continue from tomorrow. `events` replaces the events of the two anomaly frames
    (another detector's flags); `metric_anomalies` still gives the raw values."""
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    context = context or IncidentContext.empty()
    metrics = metric_anomalies if len(metric_anomalies) else None
    logs = service_logs if service_logs is not None and len(service_logs) else None
    events = all_events(metric_anomalies, log_anomalies) if events is None else events
    found = correlate_all(events, topology, rules, metrics=metrics, changes=changes, patterns=patterns,
                          context=context, logs=logs, params=params)
    eps = found.episodes
    change_windows = windows(changes, patterns) if len(changes) else pd.DataFrame(columns=["kind", "service", "start", "end"])
    following = context.updated(found.first_seen, eps[eps["start"] >= start] if len(eps) else eps,
                                change_windows, end)
    # Those that ended yesterday were reported then.
    today = Correlation(found.incidents[found.incidents["end"] >= start].reset_index(drop=True),
                        found.annotations[found.annotations["end"] >= start].reset_index(drop=True), eps,
                        found.first_seen)
    return today, following
