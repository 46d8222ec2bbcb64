"""The prediction log: every event of a day scored by the model version that served it.

An event id is the source's `event_id` column when it has one (model_events), else the row's keys and time
(`<key>/<key>@<ISO time>`, e.g. `checkout@2026-03-08T10:05:00+00:00` for incident_risk_features), so a
logged prediction can be traced back to its row in the source partition and explained again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops_pipelines.lib.mlops.config import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

ID_COLUMN = "event_id"
COLUMNS = ("event_id", "timestamp", "day", "model", "registered_model", "version", "dataset_version", "score")


def event_ids(frame: pd.DataFrame, spec: ModelSpec) -> pd.Series:
    """The id of each row (see the module docstring)."""
    import pandas as pd

    if ID_COLUMN in frame.columns:
        return frame[ID_COLUMN].astype(str)
    if not len(frame):
        return pd.Series([], dtype=str, index=frame.index)
    times = pd.to_datetime(frame[spec.time_column], utc=True).map(lambda t: t.isoformat())
    keys = frame[list(spec.keys)].astype(str).agg("/".join, axis=1) if spec.keys else ""
    return (keys + "@" + times) if spec.keys else times


def logged_predictions(model: Any, rows: pd.DataFrame, spec: ModelSpec, *, day: str, version: int,
                       dataset_version: str) -> pd.DataFrame:
    """One row per event of `rows`: its id, time, the serving version with its dataset version, and the score."""
    import pandas as pd

    from ops_pipelines.lib.mlops.training import model_inputs

    if not len(rows):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    out = pd.DataFrame({
        "event_id": event_ids(rows, spec).to_numpy(), "timestamp": rows[spec.time_column].to_numpy(), "day": day,
        "model": spec.name, "registered_model": spec.registered_name, "version": int(version),
        "dataset_version": dataset_version, "score": model.predict_proba(model_inputs(model, rows, spec))[:, 1],
    })
    return out.sort_values(["timestamp", "event_id"], kind="mergesort").reset_index(drop=True)


def find_row(rows: pd.DataFrame, spec: ModelSpec, event_id: str) -> pd.DataFrame:
    """The source row(s) with this event id (empty when it is not there)."""
    return rows[(event_ids(rows, spec) == event_id).to_numpy()]
