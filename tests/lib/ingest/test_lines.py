"""One bad line costs one line: invalid UTF-8 and over-long lines are quarantined, the rest kept."""

import gzip
import json

import pytest

from ops_pipelines.lib.ingest.kinds import FormatOptions
from ops_pipelines.lib.ingest.quarantine import Reason
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition

GOOD_ROWS = 300
BAD_LINE = 120  # physical line of the damaged row


def _metric(i: int) -> bytes:
    return b"2026-03-02T%02d:%02d:00Z,api,rps,%d,h1" % (i // 60, i % 60, i)


def _log(i: int) -> bytes:
    return json.dumps({"timestamp": f"2026-03-02T{i // 60:02d}:{i % 60:02d}:00Z", "service": "api", "host": "h1",
                       "level": "INFO", "message": f"request {i} done"}).encode()


def _plain_log(i: int) -> bytes:
    return b"2026-03-02T%02d:%02d:00Z INFO [api] h1 request %d done" % (i // 60, i % 60, i)


def _trace(i: int) -> bytes:
    return json.dumps({"trace_id": f"t{i}", "timestamp": f"2026-03-02T{i // 60:02d}:{i % 60:02d}:00Z", "app": "a", "model": "m",
                       "prompt_template_id": "p", "prompt_version": "v1", "question": "q", "contexts": ["c"],
                       "answer": "x", "latency_ms": 100 + i}).encode()


def _event(i: int) -> bytes:
    return b"e%d,2026-03-02T%02d:%02d:00Z,u1,i1,books,12.5,%d,1" % (i, i // 60, i % 60, i % 10)


# (kind, file name, header or None, row builder, the builder's text to damage)
FORMATS = [
    ("metrics", "m.csv", b"timestamp,service,metric,value,host", _metric, b"api"),
    ("metrics", "m.csv.gz", b"timestamp,service,metric,value,host", _metric, b"api"),
    ("logs", "l.jsonl", None, _log, b"done"),
    ("logs", "l.log.gz", None, _plain_log, b"done"),
    ("llm_traces", "t.jsonl", None, _trace, b"v1"),
    ("model_events", "e.csv", b"event_id,timestamp,user_id,item_id,category,price,position,clicked", _event, b"books"),
]
IDS = [f[1] for f in FORMATS]


def _file(header, build, damaged_row: int, damage) -> tuple[bytes, int]:
    """GOOD_ROWS rows with row `damaged_row` passed through `damage`; returns content and its line."""
    lines = [header] if header else []
    for i in range(GOOD_ROWS + 1):
        row = build(i)
        lines.append(damage(row) if i == damaged_row else row)
    line = damaged_row + 1 + (1 if header else 0)
    return b"\n".join(lines) + b"\n", line


def _write(landing, name, content):
    landing.write(FORMATS[IDS.index(name)][0], name, gzip.compress(content, mtime=0) if name.endswith(".gz") else content)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_one_invalid_byte_quarantines_only_its_line(landing, fmt):
    kind, name, header, build, target = fmt
    damaged = BAD_LINE - (2 if header else 1)
    content, line = _file(header, build, damaged, lambda row: row.replace(target, target[:-1] + b"\xe9", 1))
    _write(landing, name, content)
    result = ingest_partition(kind, landing.root, DAY, now=NOW)
    assert not result.file_errors
    assert len(result.rows) == GOOD_ROWS
    assert result.quarantine[["line", "reason"]].values.tolist() == [[line, Reason.INVALID_UTF8]]
    row = result.quarantine.iloc[0]
    assert "0xe9" in row["detail"] and "\\xe9" in row["raw"]
    assert result.quarantined_rows == 1 and result.quarantine_share == pytest.approx(1 / (GOOD_ROWS + 1))


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_a_line_over_the_limit_is_quarantined_and_the_rest_kept(landing, fmt):
    kind, name, header, build, target = fmt
    damaged = BAD_LINE - (2 if header else 1)
    content, line = _file(header, build, damaged, lambda row: row.replace(target, target * 1_100_000, 1))  # > 2 MB
    _write(landing, name, content)
    result = ingest_partition(kind, landing.root, DAY, now=NOW)
    assert not result.file_errors
    assert len(result.rows) == GOOD_ROWS
    assert result.quarantine[["line", "reason"]].values.tolist() == [[line, Reason.LINE_TOO_LONG]]
    assert len(result.quarantine.iloc[0]["raw"]) < 1000  # a prefix, not the line


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_the_line_limit_is_configurable(landing, fmt):
    kind, name, header, build, target = fmt
    damaged = BAD_LINE - (2 if header else 1)
    content, line = _file(header, build, damaged, lambda row: row.replace(target, target * 100, 1))
    _write(landing, name, content)
    assert ingest_partition(kind, landing.root, DAY, now=NOW).quarantine.empty  # the default limit takes it
    result = ingest_partition(kind, landing.root, DAY, FormatOptions(max_line_bytes=300), now=NOW)
    assert result.quarantine[["line", "reason"]].values.tolist() == [[line, Reason.LINE_TOO_LONG]]
    assert len(result.rows) == GOOD_ROWS


def test_a_50_mb_log_message_is_not_stored(landing):
    record = {"timestamp": "2026-03-02T10:00:00Z", "service": "api", "host": "h1", "level": "ERROR", "message": "x" * (50 << 20)}
    small = {**record, "timestamp": "2026-03-02T10:01:00Z", "message": "ok"}
    landing.write("logs", "l.jsonl", json.dumps(record) + "\n" + json.dumps(small) + "\n")
    result = ingest_partition("logs", landing.root, DAY, now=NOW)
    assert result.rows["message"].tolist() == ["ok"]
    assert result.quarantine["reason"].tolist() == [Reason.LINE_TOO_LONG]
    assert f"{len(json.dumps(record)):,} bytes" in result.quarantine.iloc[0]["detail"]
    assert max(len(v) for v in result.quarantine["raw"]) < 1000


def test_invalid_bytes_on_every_line_quarantine_every_line_and_count(landing):
    header = "timestamp,service,metric,value,host\n"
    landing.write("metrics", "latin1.csv", (header + "".join(f"2026-03-02T10:{m:02d}:00Z,caf\xe9,rps,1,h1\n" for m in range(40))).encode("latin-1"))
    landing.write("metrics", "good.csv", header + "2026-03-02T11:00:00Z,api,rps,1,h1\n")
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 1
    assert result.quarantine["reason"].value_counts().to_dict() == {Reason.INVALID_UTF8: 40}
    assert result.quarantine_share == pytest.approx(40 / 41)


def test_a_quote_left_open_costs_its_line_not_the_rest_of_the_file(landing):
    rows = [f"2026-03-02T{i // 60:02d}:{i % 60:02d}:00Z,api,rps,{i},h1" for i in range(1000)]
    rows[1] = '2026-03-02T00:01:00Z,"api,rps,1,h1'  # one stray quote
    landing.write("metrics", "m.csv", "timestamp,service,metric,value,host\n" + "\n".join(rows) + "\n")
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 999
    assert result.quarantine[["line", "reason"]].values.tolist() == [[3, Reason.UNPARSEABLE_ROW]]


def test_lone_surrogate_json_escapes_are_quarantined_not_stored(landing):
    good = {"timestamp": "2026-03-02T10:00:00Z", "service": "api", "host": "h1", "level": "INFO", "message": "fine"}
    bad = {**good, "timestamp": "2026-03-02T10:01:00Z"}
    text = json.dumps(good) + "\n" + json.dumps(bad).replace('"INFO"', '"INFO\\ud800"') + "\n"
    landing.write("logs", "l.jsonl", text)
    result = ingest_partition("logs", landing.root, DAY, now=NOW)
    assert result.rows["message"].tolist() == ["fine"]
    assert result.quarantine[["line", "reason"]].values.tolist() == [[2, Reason.INVALID_UTF8]]
