"""`ingest_partition` for tests: every call also checks that every row is accounted for.

The rows read are counted here from the files themselves (non-blank lines, less a CSV header;
Parquet row counts), not taken from the code under test, and must equal stored + quarantined +
exact duplicates per file.
"""

import csv
import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ops_pipelines.lib.ingest import landing
from ops_pipelines.lib.ingest.quarantine import FILE_REASONS


def ingest_partition(kind, root, day, *args, **kwargs):
    result = landing.ingest_partition(kind, root, day, *args, **kwargs)
    options = args[0] if args else kwargs.get("options")
    assert_accounted(result, Path(root), options.max_line_bytes if options else 1 << 20)
    return result


def assert_accounted(result, root: Path, max_line_bytes: int = 1 << 20) -> None:
    accounts = result.accounts.set_index("source_file")
    assert result.unaccounted().empty, result.accounts
    assert result.accounted_for
    assert accounts["rows_stored"].sum() == len(result.rows)
    assert accounts["exact_duplicates"].sum() == result.exact_duplicates
    file_level = result.quarantine["reason"].isin([r.value for r in FILE_REASONS])
    per_file = result.quarantine[~file_level]["source_file"].value_counts()
    for name, account in accounts.iterrows():
        if account["problem"]:
            assert account["rows_stored"] == 0 and account["rows_quarantined"] == account["rows_read"] >= 0
            assert (result.quarantine[file_level]["source_file"] == name).sum() == 1
            continue
        assert per_file.get(name, 0) == account["rows_quarantined"], name
        expected = independent_rows(root / name, max_line_bytes)
        if expected is not None:
            assert account["rows_read"] == expected, (name, account.to_dict(), expected)
    assert set(per_file.index) <= set(accounts.index)
    # What is stored can always be written: no lone surrogates, nothing pickled.
    for frame in (result.rows, result.quarantine):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), io.BytesIO())


def independent_rows(path: Path, max_line_bytes: int) -> int | None:
    """Rows in a readable landing file, counted from its lines; None for formats not counted by line.

    Blank lines are not rows: whitespace only, or for CSV an empty line or one whose fields (as
    Python's csv module splits it) are all empty and as many as the header's. A line over the
    length limit is a row (quarantined) whatever it holds.
    """
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        return pq.read_metadata(path).num_rows
    if name.endswith(".json"):
        return None  # a JSON document: rows are its elements, not lines
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    if name.endswith(".csv"):
        return _csv_rows(data, max_line_bytes)
    count = 0
    for i, line in enumerate(data.split(b"\n")):
        text = line.decode("utf-8", "replace")
        if len(line.rstrip(b"\r")) > max_line_bytes or (text.lstrip("\ufeff") if i == 0 else text).strip():
            count += 1
    return count


def _csv_rows(data: bytes, max_line_bytes: int) -> int:
    lines: list[bytes | None] = []  # None: a line over the limit
    for line in data.split(b"\n"):
        body = line.rstrip(b"\r")
        if len(body) > max_line_bytes:
            lines.append(None)
        else:  # a lone CR ends a line too, as for the CSV parser
            lines += (line[:-1] if line.endswith(b"\r") else line).split(b"\r")
    header = next(csv.reader([(lines[0] or b"").decode("utf-8", "replace").lstrip("\ufeff")]), [])
    count = 0
    for line in lines[1:]:
        if line is None:
            count += 1
            continue
        if not line:
            continue
        try:
            fields = next(csv.reader([line.decode("utf-8", "replace")]), [])
        except csv.Error:
            fields = ["unparseable"]
        count += not (len(fields) == len(header) and not any(fields))
    return count
