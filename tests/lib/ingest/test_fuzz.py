"""Property-based fuzz of every landing-zone reader: random bytes and malformed rows.

Whatever lands, ingestion never raises, never reports an unexpected error, stores only finite
in-range values inside the partition, can always write what it keeps, and accounts for every row
(rows read, counted here from the file itself = stored + quarantined + exact duplicates).
Deterministic (derandomized) and small, so it runs in the normal test run.
"""

import gzip
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops_pipelines.lib.ingest.kinds import FormatOptions
from ops_pipelines.lib.ingest.landing import KINDS
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition

pytestmark = pytest.mark.fuzz

MAX_LINE = 2000  # small, so over-long lines are cheap to make
MAX_ABS = 1e15
OPTIONS = FormatOptions(max_line_bytes=MAX_LINE, max_abs_value=MAX_ABS)
FUZZ = settings(
    max_examples=50, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Mostly well-formed values (so rows get through to de-duplication, sorting and storage), and
# every kind of bad value a producer writes.
GOOD_TIMESTAMPS = st.integers(0, 86_399).map(lambda s: (pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ"))
BAD_TIMESTAMPS = st.one_of(
    st.sampled_from([
        "2026-03-02T23:59:59.999+00:00", "2026-03-02T10:00:00+05:30", "2026-03-02 10:00:00", "2026-03-01T23:59:59Z",
        "2026-03-03T00:00:00Z", "2099-01-01T00:00:00Z", "1772445600", "1772445600000", "1772445600000000000",
        "1772445600.5", "yesterday", "", " ", "2026-13-45T99:00:00Z", "-1", "1e400", "NaN", "Z", "9223372036854775807",
    ]),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
)
TIMESTAMPS = st.one_of(GOOD_TIMESTAMPS, BAD_TIMESTAMPS)
GOOD_NUMBERS = st.one_of(st.integers(0, 5000).map(str), st.floats(0, 1e6).map(repr))
BAD_NUMBERS = st.one_of(
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from(["1e308", "-1e308", "1e15", "-1e15", "1.0000001e15", "-0.0", "", "n/a", "NaN", "nan", "inf", "-Infinity",
                     "0x10", "1,5", " 3 ", "1e-400", "9" * 400, "true", "1_000", "-5"]),
)
NUMBERS = st.one_of(GOOD_NUMBERS, BAD_NUMBERS)
NAMES = st.sampled_from(["api", "db", "web"])
TEXT = st.one_of(NAMES, st.sampled_from(["", " ", "a,b", 'say "hi"', "é", "\u2028", "x" * 50]), st.text(max_size=12))
LEVELS = st.sampled_from(["INFO", "warning", "ERR", "fatal", "", "debug ", "LOUD"])
GOOD_LEVELS = st.sampled_from(["INFO", "warning", "ERROR"])


WRONG_JSON = st.one_of(st.sampled_from([None, 1, -2.5, True, [], ["c"], {"a": 1}, 1e308]), st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def csv_line(draw, fields):
    return ",".join(draw(f) for f in fields).encode()


@st.composite
def json_line(draw, fields: dict, malformed: bool):
    record = {k: draw(v) for k, v in fields.items()}
    if malformed:  # fields missing or of a JSON type they cannot have
        record = {k: draw(st.one_of(st.just(v), WRONG_JSON)) for k, v in record.items() if draw(st.booleans()) or k == "timestamp"}
    if draw(st.booleans()):  # numbers as JSON numbers, as producers write them
        record = {k: (float(v) if isinstance(v, str) and _is_float(v) else v) for k, v in record.items()}
    text = json.dumps(record, allow_nan=True)
    if not malformed or draw(st.booleans()):
        return text.encode()
    return draw(st.sampled_from([text.upper(), "[" + text + "]", text[: len(text) // 2], '"just a string"', "42",
                                 "[" * 2000 + "]" * 2000, text.replace('"', '"\\ud800', 1)])).encode()


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


@st.composite
def plain_log_line(draw, ts, level, text):
    return f"{draw(ts)} {draw(level)} [{draw(text)}] {draw(text)} {draw(text)}".encode()


MUTATIONS = ["none", "invalid_byte", "quote", "nul", "cr", "truncate", "too_long", "tab"]


@st.composite
def mutated(draw, line_strategy):
    line = draw(line_strategy)
    kind = draw(st.sampled_from(MUTATIONS))
    at = draw(st.integers(min_value=0, max_value=max(len(line), 0)))
    if kind == "invalid_byte":
        return line[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + line[at:]
    if kind == "quote":
        return line[:at] + b'"' + line[at:]
    if kind == "nul":
        return line[:at] + b"\x00" + line[at:]
    if kind == "cr":
        return line[:at] + b"\r" + line[at:]
    if kind == "truncate":
        return line[:at]
    if kind == "too_long":
        return line + b"x" * (MAX_LINE + 1)
    if kind == "tab":
        return line.replace(b",", b"\t")
    return line


def metric_fields(ts, text, num):
    return (ts, text, text, num, text)


IDS = st.integers(0, 10**9).map("id{}".format)


def event_fields(ts, text, num):
    return (IDS if text is NAMES else text, ts, text, text, text, num, num, num)


def log_fields(ts, text, level):
    return {"timestamp": ts, "service": text, "host": text, "level": level, "message": text}


def change_fields(ts, text, _num):
    return (ts, text, st.sampled_from(["deploy", "Deployment", "config_change", "cron"]) if text is NAMES else text, text)


def change_record(ts, text, num):
    ts_field, service, kind, detail = change_fields(ts, text, num)
    return {"timestamp": ts_field, "service": service, "kind": kind, "detail": detail}


def trace_fields(ts, text, num):
    return {"trace_id": IDS if text is NAMES else text, "timestamp": ts, "app": text, "model": text, "prompt_template_id": text,
            "prompt_version": text, "question": text, "contexts": text, "answer": text,
            "latency_ms": num, "input_tokens": num, "output_tokens": num, "status": text}


HEADERS = {
    "metrics": [b"timestamp,service,metric,value,host", b"Timestamp, Service ,METRIC,value", b"timestamp,value",
                b"timestamp,service,metric,value,host,extra", b"timestamp,service,value", b"timestamp,timestamp,value"],
    "model_events": [b"event_id,timestamp,user_id,item_id,category,price,position,clicked",
                     b"event_id,timestamp,user_id,item_id,category,price,position", b"event_id,user_id"],
    "changes": [b"timestamp,service,kind,detail", b"time,service,kind,detail", b"timestamp,service,detail,extra"],
}
GOOD = (GOOD_TIMESTAMPS, NAMES, GOOD_NUMBERS)
ANY = (TIMESTAMPS, TEXT, NUMBERS)
# (kind, format) -> (well-formed lines, lines that may be malformed in any field or byte)
LINES = {
    ("metrics", "csv"): (csv_line(metric_fields(*GOOD)), mutated(csv_line(metric_fields(*ANY)))),
    ("model_events", "csv"): (csv_line(event_fields(*GOOD)), mutated(csv_line(event_fields(*ANY)))),
    ("logs", "jsonl"): (json_line(log_fields(GOOD[0], GOOD[1], GOOD_LEVELS), False),
                        mutated(json_line(log_fields(TIMESTAMPS, TEXT, LEVELS), True))),
    ("logs", "log"): (plain_log_line(GOOD[0], GOOD_LEVELS, NAMES), mutated(plain_log_line(TIMESTAMPS, LEVELS, TEXT))),
    ("llm_traces", "jsonl"): (json_line(trace_fields(*GOOD), False), mutated(json_line(trace_fields(*ANY), True))),
    ("changes", "csv"): (csv_line(change_fields(*GOOD)), mutated(csv_line(change_fields(*ANY)))),
    ("changes", "jsonl"): (json_line(change_record(*GOOD), False), mutated(json_line(change_record(*ANY), True))),
}
TEXT_FORMATS = {"metrics": ["csv"], "logs": ["jsonl", "log"], "llm_traces": ["jsonl"], "model_events": ["csv"],
                "changes": ["csv", "jsonl"]}


@st.composite
def text_file(draw, kind):
    """A line-oriented landing file of malformed rows: (name, bytes)."""
    fmt = draw(st.sampled_from(TEXT_FORMATS[kind]))
    good, bad = LINES[(kind, fmt)]
    lines = draw(st.lists(good, max_size=20)) + draw(st.lists(bad, max_size=6))
    lines += draw(st.lists(st.sampled_from([b"", b"   ", b",,,,", b'""']), max_size=3))
    lines = draw(st.permutations(lines)) if lines else lines
    if lines and draw(st.booleans()):
        lines.append(lines[0])  # an exact or conflicting repeat
    if fmt == "csv":
        lines.insert(0, HEADERS[kind][0] if draw(st.integers(0, 3)) else draw(st.sampled_from(HEADERS[kind])))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    content = end.join(lines) + draw(st.sampled_from([end, b""]))
    if draw(st.integers(0, 9)) == 0:
        content = b"\xef\xbb\xbf" + content  # a UTF-8 byte-order mark
    name = f"f.{fmt}"
    if draw(st.booleans()):
        content = gzip.compress(content, mtime=0)
        if draw(st.integers(0, 4)) == 0:
            content = content[: draw(st.integers(0, len(content)))]
        name += ".gz"
    return name, content


@st.composite
def random_file(draw, kind):
    """Random bytes under a name the kind accepts (or does not)."""
    suffixes = {"metrics": [".csv", ".csv.gz", ".json", ".parquet", ".xlsx"], "logs": [".jsonl", ".log", ".txt.gz", ".bin"],
                "llm_traces": [".jsonl", ".jsonl.gz"], "model_events": [".csv", ".parquet"], "changes": [".jsonl", ".csv.gz", ".txt"]}[kind]
    prefix = draw(st.sampled_from([b"", b"\x1f\x8b\x08\x00", b"PAR1", b"\xff\xfe", b"timestamp,value\n", b"{"]))
    return "r" + draw(st.sampled_from(suffixes)), prefix + draw(st.binary(max_size=600))


@st.composite
def parquet_file(draw, kind):
    """A Parquet file with the kind's columns holding malformed values (as strings or floats)."""
    columns = {"metrics": ["timestamp", "service", "metric", "value", "host"],
               "model_events": ["event_id", "timestamp", "user_id", "item_id", "category", "price", "position"]}[kind]
    n = draw(st.integers(0, 12))
    data = {}
    for col in columns:
        if col in ("value", "price", "position") and draw(st.booleans()):
            data[col] = pa.array(draw(st.lists(st.one_of(st.none(), st.floats()), min_size=n, max_size=n)), type=pa.float64())
        else:
            pool = TIMESTAMPS if col == "timestamp" else NUMBERS if col in ("value", "price", "position") else TEXT
            data[col] = pa.array(draw(st.lists(st.one_of(st.none(), pool), min_size=n, max_size=n)), type=pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(data), buf)
    return "p.parquet", buf.getvalue()


@st.composite
def prometheus_file(draw):
    """A Prometheus query_range response with malformed samples and labels."""
    sample = st.one_of(st.tuples(st.one_of(st.floats(), st.integers(), TIMESTAMPS), NUMBERS).map(list),
                       st.lists(st.integers(), max_size=3), st.none(), st.text(max_size=5))
    series = st.fixed_dictionaries({"metric": st.dictionaries(st.sampled_from(["__name__", "service", "job", "instance", "host"]),
                                                              st.one_of(TEXT, st.integers())),
                                    "values": st.lists(sample, max_size=6)})
    doc = {"status": draw(st.sampled_from(["success", "error", None])),
           "data": {"resultType": draw(st.sampled_from(["matrix", "vector", "scalar"])), "result": draw(st.lists(series, max_size=4))}}
    return "prom.json", json.dumps(doc, allow_nan=True).encode()


def files_for(kind):
    strategies = [text_file(kind), random_file(kind)]
    if kind in ("metrics", "model_events"):
        strategies.append(parquet_file(kind))
    if kind == "metrics":
        strategies.append(prometheus_file())
    return st.lists(st.one_of(*strategies), min_size=1, max_size=3, unique_by=lambda f: f[0])


def check_partition(kind: str, files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        day = root / kind / DAY
        day.mkdir(parents=True)
        for name, content in files:
            (day / name).write_bytes(content)
        result = ingest_partition(kind, root, DAY, OPTIONS, now=NOW)  # asserts the accounting
    assert not [e for e in result.file_errors if e.problem.startswith("unexpected")], result.file_errors
    rows = result.rows
    if len(rows):
        ts = rows["timestamp"]
        assert ts.min() >= pd.Timestamp(DAY, tz="UTC") and ts.max() < pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(days=1)
    for col in rows.columns:
        if pd.api.types.is_float_dtype(rows[col].dtype) and col in ("value", "latency_ms", "price", "position"):
            values = rows[col].to_numpy(dtype=float)
            assert np.isfinite(values).all() and (np.abs(values) <= MAX_ABS).all(), col


@pytest.mark.parametrize("kind", KINDS)  # every landing-zone kind there is
def test_fuzz_every_reader_never_crashes_and_accounts_for_every_row(kind):
    @FUZZ
    @given(files=files_for(kind))
    def run(files):
        check_partition(kind, files)

    run()


def test_fuzz_checks_catch_a_broken_reader(monkeypatch):
    """The property is not vacuous: a reader that loses a row is caught by the accounting."""
    from ops_pipelines.lib.ingest import kinds

    real = kinds.read_csv

    def losing(*args, **kwargs):
        rows, bad = real(*args, **kwargs)
        return rows.iloc[1:], bad

    monkeypatch.setattr(kinds, "read_csv", losing)
    content = b"timestamp,service,metric,value,host\n2026-03-02T10:00:00Z,api,rps,1,h1\n2026-03-02T10:01:00Z,api,rps,2,h1\n"
    with pytest.raises(AssertionError):
        check_partition("metrics", [("m.csv", content)])
