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
