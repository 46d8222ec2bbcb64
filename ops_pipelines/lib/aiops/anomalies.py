"""Score long-format metric rows with the detector: the logic behind `metric_anomalies`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState, score

SERIES = ["service", "metric", "host"]


def score_metrics(
    rows: pd.DataFrame, state: DetectorState | None = None, params: DetectorParams = DetectorParams()
) -> tuple[pd.DataFrame, DetectorState]:
    """Add `anomaly_score` and `is_anomaly` to metric rows; return them with the updated state.

    `rows` has timestamp (UTC), service, metric, host, value. Series that do not appear in
    `rows` keep their state unchanged, so a series with a gap day resumes where it stopped.
    """
    state = state or DetectorState.empty([])
    if rows.empty:
        return rows.assign(anomaly_score=pd.Series(dtype=float), is_anomaly=pd.Series(dtype=bool)), state
    groups = rows.groupby(SERIES, observed=True, sort=True)
    codes = groups.ngroup().to_numpy()
    names = ["|".join(map(str, key)) for key in groups.size().index]
    t_index, times = pd.factorize(rows["timestamp"].array.asi8, sort=True)
    wide = np.full((len(times), len(names)), np.nan)
    wide[t_index, codes] = rows["value"].to_numpy(dtype=float)
    scores, today = score(times, wide, state.aligned(list(names)), params)
    out = rows.assign(anomaly_score=scores[t_index, codes])
    out["is_anomaly"] = out["anomaly_score"].to_numpy() >= 0.5
    return out, today.merged_into(state)
