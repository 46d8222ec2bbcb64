"""State files on disk: deterministic, pickle-free zips of .npy arrays (and JSON), written atomically."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from ops_pipelines.lib.aiops.detector import DetectorState
from ops_pipelines.lib.files import atomic_write

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same state gives the same bytes


def write_zip_atomic(path: Path, members: dict[str, bytes]) -> None:
    """Write a zip of `members` (sorted, fixed timestamps) via a temp file and rename."""
    def write(fh) -> None:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in sorted(members.items()):
                zf.writestr(zipfile.ZipInfo(name, date_time=_EPOCH), data, compress_type=zipfile.ZIP_DEFLATED)

    atomic_write(path, write)


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def read_npy_members(path: Path) -> dict[str, np.ndarray]:
    """Every `<name>.npy` member of a state zip, by name (pickle refused)."""
    with zipfile.ZipFile(path) as zf:
        return {n[:-4]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False) for n in zf.namelist() if n.endswith(".npy")}


def save_state(state: DetectorState, path: Path) -> None:
    """The metric detector's state: its series keys and every array."""
    members = {"keys.npy": npy_bytes(np.asarray(state.keys, dtype=np.str_))}
    members.update({f"{name}.npy": npy_bytes(array) for name, array in state.arrays.items()})
    write_zip_atomic(path, members)


def load_state(path: Path, only: list[str] | None = None) -> DetectorState:
    """The state in `path`; with `only`, just those of its series (the others are never held in memory
    together: arrays are read one at a time and cut down)."""
    if only is None:
        arrays = read_npy_members(path)
        keys = [str(k) for k in arrays.pop("keys")]
        return DetectorState(keys, arrays)
    with zipfile.ZipFile(path) as zf:
        stored = [str(k) for k in _npy(zf, "keys.npy")]
        wanted = set(only)
        take = np.array([i for i, k in enumerate(stored) if k in wanted], dtype=np.int64)
        arrays = {n[:-4]: _npy(zf, n)[take] for n in zf.namelist() if n.endswith(".npy") and n != "keys.npy"}
    return DetectorState([stored[i] for i in take], arrays)


def _npy(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
