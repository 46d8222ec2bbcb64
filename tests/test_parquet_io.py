"""Partition writes are atomic: a crash leaves the previous file intact and no temp file."""

import pandas as pd
import pytest

from ops_pipelines.io import parquet


def test_crash_during_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "asset" / "2026-03-02.parquet"
    parquet.write_parquet_atomic(pd.DataFrame({"x": [1, 2]}), target)
    before = target.read_bytes()

    import pyarrow.parquet as pq

    def crash(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        parquet.write_parquet_atomic(pd.DataFrame({"x": [3]}), target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == [target.name]
