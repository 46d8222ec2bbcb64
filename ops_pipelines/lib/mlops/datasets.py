"""Content-addressed training dataset versions: immutable Parquet snapshots with a lineage manifest.

Layout: `<root>/<model>/<version>/data.parquet` and `manifest.json`. The version is the first 16
hex digits of sha256 over the Arrow schema and the rows (in the frame's order), so the same rows
give the same version on any machine and a version is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ops_pipelines.lib.files import atomic_write, atomic_write_text

VERSION_CHARS = 16


@dataclass(frozen=True)
class DatasetVersion:
    model: str
    version: str
    path: Path  # the data.parquet file
    rows: int
    lineage: dict[str, Any]  # JSON-able manifest: window, upstream partitions, exclusions, schema, code version

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


def content_version(frame: pd.DataFrame) -> str:
    """sha256 of schema and content, via Arrow IPC (stable bytes for the same table)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    digest = hashlib.sha256(str(table.schema).encode())
    digest.update(sink.getvalue().to_pybytes())
    return digest.hexdigest()[:VERSION_CHARS]


class DatasetStore:
    """Writes, reads and lists dataset versions under one root folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _dir(self, model: str, version: str) -> Path:
        return self.root / model / version

    def write(self, model: str, frame: pd.DataFrame, lineage: dict[str, Any]) -> DatasetVersion:
        """Store `frame` as a new version (or return the existing one with the same content)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        version = content_version(frame)
        folder = self._dir(model, version)
        if (folder / "manifest.json").exists():
            return self.get(model, version)
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        manifest = {
            **lineage,
            "model": model,
            "version": version,
            "rows": len(frame),
            "schema": {f.name: str(f.type) for f in table.schema},
        }
        atomic_write(folder / "data.parquet", lambda fh: pq.write_table(table, fh, compression="zstd"))
        # The manifest goes last: its presence marks a complete version.
        atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True, default=str))
        return self.get(model, version)

    def get(self, model: str, version: str) -> DatasetVersion:
        folder = self._dir(model, version)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise KeyError(f"no dataset version {version!r} of model {model!r} under {self.root}")
        manifest = json.loads(manifest_path.read_text())
        return DatasetVersion(model, version, folder / "data.parquet", int(manifest["rows"]), manifest)

    def load(self, model: str, version: str) -> pd.DataFrame:
        return pd.read_parquet(self.get(model, version).path)

    def list_versions(self, model: str) -> list[DatasetVersion]:
        """Every complete version of a model, oldest first (by manifest `created_at`, then version)."""
        folder = self.root / model
        if not folder.exists():
            return []
        found = [self.get(model, d.name) for d in folder.iterdir() if (d / "manifest.json").exists()]
        return sorted(found, key=lambda v: (str(v.lineage.get("created_at", "")), v.version))
