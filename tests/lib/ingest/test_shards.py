"""Ingestion by service shard stores what one step stores: every shard reads the day's files, keeps its services'
rows, and the join of the shards' parts (after a trip through Parquet, as between steps) gives the same rows,
quarantine and per-file accounts, compared as the Parquet bytes the IO manager would write."""

import io
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given

from ops_pipelines.lib.ingest.kinds import METRICS
from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.ingest.shards import join_shards, rows_in_shard
from tests.conftest import DAY, NOW
from tests.lib.ingest.test_fuzz import FUZZ, OPTIONS, files_for


def stored(frame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, compression="zstd")
    return buf.getvalue()


def through_parquet(result):
    """A shard's parts as the joining step reads them back."""
    return tuple(pq.read_table(io.BytesIO(stored(f))).to_pandas() for f in (result.rows, result.quarantine, result.accounts))


def assert_shards_join_to_one_step(root: Path, shards: int) -> None:
    one = ingest_partition("metrics", root, DAY, OPTIONS, now=NOW)
    parts = [through_parquet(ingest_partition("metrics", root, DAY, OPTIONS, now=NOW, shard=(s, shards)))
             for s in range(shards)]
    joined = join_shards(parts, METRICS)
    for name in ("rows", "quarantine", "accounts"):
        assert stored(getattr(joined, name)) == stored(getattr(one, name)), (name, getattr(joined, name), getattr(one, name))
    assert [(e.path, e.problem) for e in joined.file_errors] == [(e.path, e.problem) for e in one.file_errors]
    assert (joined.files_read, joined.exact_duplicates, joined.accounted_for) == (one.files_read, one.exact_duplicates, one.accounted_for)
    # each shard kept only its services (a row without a service name is shard 0's)
    for s, (rows, _, _) in enumerate(parts):
        assert rows_in_shard(rows.get("service"), len(rows), s, shards).all()


def write_day(root: Path, files: dict[str, bytes]) -> None:
    day = root / "metrics" / DAY
    for name, content in files.items():
        (day / name).parent.mkdir(parents=True, exist_ok=True)
        (day / name).write_bytes(content)


HEADER = b"timestamp,service,metric,value,host\n"
MESSY = {
    # the same services spelled with blanks, exact and conflicting repeats across files, rows outside the day,
    # a non-finite value, a row without a service, a line that does not parse
    "a.csv": HEADER + b"2026-03-02T10:00:00Z,api,rps,1,h1\n2026-03-02T10:01:00Z, api ,rps,2,h1\n"
             b"2026-03-02T10:02:00Z,db,rps,3,\n2026-03-03T00:00:00Z,web,rps,4,h2\n2026-03-02T10:03:00Z,,rps,5,h1\n"
             b"2026-03-02T10:04:00Z,web,rps,inf,h2\n2026-03-02T10:05:00Z,cache,rps\n",
    "b.csv": HEADER + b"2026-03-02T10:00:00Z,api,rps,1,h1\n2026-03-02T10:02:00Z,db,rps,30,\n"
             b"2026-03-02T10:06:00Z,queue,lag,7,h9\n2026-03-02T10:06:00Z,queue,lag,7,h9\n",
    # epoch seconds with one value in milliseconds: the file's dominant unit decides, whichever shard holds the row
    "epochs.csv": HEADER + b"1772445600,api,cpu,0.5,h1\n1772445660,api,cpu,0.6,h1\n1772445720,web,cpu,0.7,h2\n"
                  b"1772445780000,web,cpu,0.8,h2\n1772445840,db,cpu,0.9,h3\n",
    "checkout/latency_ms.csv": b"timestamp,value\n2026-03-02T10:00:00Z,120\n2026-03-02T10:01:00Z,-\n",
    "broken.csv.gz": b"\x1f\x8b\x08\x00not gzip",
}


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_a_messy_day_joined_from_shards_is_the_one_step_day(tmp_path, shards):
    write_day(tmp_path, MESSY)
    assert_shards_join_to_one_step(tmp_path, shards)


def test_an_empty_day_and_a_day_of_unreadable_files_join_to_the_one_step_day(tmp_path):
    (tmp_path / "metrics" / DAY).mkdir(parents=True)
    assert_shards_join_to_one_step(tmp_path, 3)
    write_day(tmp_path, {"broken.csv.gz": MESSY["broken.csv.gz"], "empty.csv": HEADER})
    assert_shards_join_to_one_step(tmp_path, 3)


def test_fuzz_shards_join_to_the_one_step_day():
    @FUZZ
    @given(files=files_for("metrics"))
    def run(files):
        with tempfile.TemporaryDirectory() as tmp:
            write_day(Path(tmp), dict(files))
            assert_shards_join_to_one_step(Path(tmp), 3)

    run()


def test_a_shard_that_cannot_validate_a_file_fails_instead_of_dropping_its_rows(tmp_path, monkeypatch):
    from ops_pipelines.lib.ingest import pipeline

    write_day(tmp_path, {"a.csv": MESSY["a.csv"]})

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(pipeline, "validate_rows", broken)
    with pytest.raises(RuntimeError, match="bug"):
        ingest_partition("metrics", tmp_path, DAY, OPTIONS, now=NOW, shard=(1, 2))
    # shard 0 (like one step) quarantines the file and says why
    result = ingest_partition("metrics", tmp_path, DAY, OPTIONS, now=NOW, shard=(0, 2))
    assert [e.problem for e in result.file_errors] == ["unexpected RuntimeError: bug"]
