"""`ops-pipelines detect`: the detector on single-series `timestamp,value` CSV files (NAB style)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.detector import DetectorParams, DetectorState, score


def input_files(inputs: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to its input root) for every CSV file given or below a given folder."""
    found = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found += [(p, p.relative_to(item)) for p in sorted(item.rglob("*.csv"))]
        elif item.is_file():
            found.append((item, Path(item.name)))
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return found


def detect_series(frame: pd.DataFrame, params: DetectorParams = DetectorParams()) -> pd.DataFrame:
    """Score one `timestamp,value` frame in file order; naive timestamps are read as UTC."""
    stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    if not stamps.is_monotonic_increasing:
        raise ValueError("timestamps must be in ascending order")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, np.nan)  # missing/non-finite: no point, no score
    scores, _ = score(stamps.array.asi8, values[:, None], DetectorState.empty(["series"]), params)
    out = frame[["timestamp", "value"]].copy()
    out["anomaly_score"] = np.round(np.nan_to_num(scores[:, 0], nan=0.0), 6)
    out["is_anomaly"] = (out["anomaly_score"] >= 0.5).astype(int)
    return out


def detect_files(inputs: Iterable[Path], output: Path) -> list[Path]:
    """Score every input file; write `<output>/<relative path>` CSVs; return the files written."""
    written = []
    for path, rel in input_files(inputs):
        frame = pd.read_csv(path, dtype={"timestamp": str})
        missing = {"timestamp", "value"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}; expected timestamp,value")
        target = output / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        detect_series(frame).to_csv(target, index=False)
        written.append(target)
    return written
