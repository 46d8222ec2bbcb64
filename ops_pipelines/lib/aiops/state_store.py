"""Detector state on disk: one deterministic, pickle-free file per partition."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ops_pipelines.lib.aiops.detector import DetectorState

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same state gives the same bytes


def save_state(state: DetectorState, path: Path) -> None:
    """Write `state` atomically as a zip of .npy arrays (no pickle, byte-reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"keys": np.asarray(state.keys, dtype=np.str_), **dict(sorted(state.arrays.items()))}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.save(buf, array, allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH), buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> DetectorState:
    with zipfile.ZipFile(path) as zf:
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False) for n in zf.namelist()}
    keys = [str(k) for k in arrays.pop("keys")]
    return DetectorState(keys, arrays)
