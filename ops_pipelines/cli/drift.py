"""File side of `ops-pipelines drift`: read CSV/Parquet, run `compute_drift`, write the JSON summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ops_pipelines.lib.files import atomic_write_text
from ops_pipelines.lib.mlops.drift import DriftResult, compute_drift, save_drift_report

if TYPE_CHECKING:
    import pandas as pd

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file (chosen by suffix) as a DataFrame; ValueError naming the file otherwise."""
    import pandas as pd

    path = Path(path)
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types; the user needs the file and the reason
        raise ValueError(f"{path}: cannot read as {fmt}: {exc}") from exc


def split_names(text: str | None) -> list[str] | None:
    """'a, b,c' -> ['a', 'b', 'c']; None or blank -> None."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def write_json_atomic(payload: dict, path: Path) -> None:
    """Same input -> same bytes; readers never see half a file."""
    atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def run_drift_files(
    reference: str | Path,
    current: str | Path,
    json_out: str | Path,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    report: str | Path | None = None,
) -> tuple[DriftResult, Path | None]:
    """Compare two files with `compute_drift` defaults, write the JSON and optionally the HTML report."""
    ref, cur = read_table(reference), read_table(current)
    result = compute_drift(ref, cur, columns, categorical=categorical)
    write_json_atomic(result.to_dict(), Path(json_out))
    html = save_drift_report(ref, cur, columns, report, categorical=categorical) if report else None
    return result, html


def summary_line(result: DriftResult, json_out: str | Path, html: Path | None) -> str:
    drifted = result.drifted_columns
    verdict = "DRIFT" if result.dataset_drift else "no dataset drift"
    names = f" ({', '.join(drifted)})" if drifted else ""
    extra = f"; skipped {sorted(result.skipped)}" if result.skipped else ""
    extra += f"; report {html}" if html else ""
    return (
        f"{verdict}: {len(drifted)}/{len(result.columns)} columns drifted{names}, share {result.drift_share:.2f} "
        f"(threshold {result.share_threshold:.2f}); json {json_out}{extra}"
    )
