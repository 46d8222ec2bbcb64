"""Byte-reproducible, atomic file writers (same input -> same bytes, no half-written files)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    _atomic_write(path, text.encode("utf-8"))


def write_lines(path: Path, lines: Sequence[str]) -> None:
    write_text(path, "".join(line + "\n" for line in lines))


def write_json(path: Path, obj: Any) -> None:
    """Pretty JSON with sorted keys, so the file depends on content only."""
    write_text(path, json.dumps(obj, sort_keys=True, indent=2) + "\n")


def write_parquet(path: Path, table: Any) -> None:
    """Parquet without pandas/schema metadata (it would embed nothing stable to compare)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    _atomic_write(path, sink.getvalue().to_pybytes())
