"""Where ops_pipelines keeps its data: one environment variable, `OPS_PIPELINES_HOME`.

Default: `.ops_pipelines/` in the current directory (ignored by git). Inside it:
`landing/` (input files, the sample world writes here), `storage/` (asset Parquet files),
`dagster/` (the embedded Dagster instance, used as DAGSTER_HOME by the CLI).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "OPS_PIPELINES_HOME"
DEFAULT_HOME = ".ops_pipelines"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"


def data_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve()


def landing_dir() -> Path:
    return data_home() / "landing"


def storage_dir() -> Path:
    return data_home() / "storage"


def dagster_home() -> Path:
    return data_home() / "dagster"


def use_compiled_cache() -> None:
    """Let numba cache compiled kernels under the data home (not next to the sources), so only the
    first process after an install pays the compile."""
    folder = data_home() / "cache" / "numba"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))


SHARDS_ENV = "OPS_PIPELINES_SHARDS"
DEFAULT_SHARDS = 1  # one shard adds no measurable cost in one process (docs/platform.md#sharding-metric-scoring-and-rollups-ops_pipelines_shards)
MAX_SHARDS = 256


def shard_count(environ: dict[str, str] | None = None) -> int:
    """How many service shards metric ingestion, `metric_anomalies` and `anomaly_rollups` split a day into
    (`OPS_PIPELINES_SHARDS`, default 1); a clear error for anything but a whole number from 1 to 256."""
    raw = ((environ if environ is not None else os.environ).get(SHARDS_ENV) or "").strip()
    if not raw:
        return DEFAULT_SHARDS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SHARDS:
        raise ValueError(f"{SHARDS_ENV}={raw!r} must be a whole number from 1 to {MAX_SHARDS}")
    return int(raw)
