"""The same bad-input contract holds for every ingestion kind."""

import json

import pandas as pd
import pytest

from ops_pipelines.lib.ingest.quarantine import Reason
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition


def metric(ts, value=1.0, key="a"):
    return {"timestamp": ts, "service": "api", "metric": key, "value": value, "host": "h1"}


def log(ts, value=1.0, key="a"):
    return {"timestamp": ts, "service": "api", "host": "h1", "level": "INFO", "message": f"{key} took {value} ms"}


def trace(ts, value=1.0, key="a"):
    return {"trace_id": key, "timestamp": ts, "app": "support", "model": "m", "prompt_template_id": "p", "prompt_version": "v1",
            "question": "q", "contexts": ["c"], "answer": "x", "latency_ms": value, "input_tokens": 3, "output_tokens": 4}


def event(ts, value=1.0, key="a"):
    return {"event_id": key, "timestamp": ts, "user_id": "u", "item_id": "i", "category": "c", "price": value, "position": 1, "clicked": 1}


def change(ts, value=1.0, key="a"):
    return {"timestamp": ts, "service": "api", "kind": "deploy", "detail": f"version {key} ({value})"}


def as_csv(records):
    return pd.DataFrame(records).to_csv(index=False)


def as_jsonl(records):
    return "".join(json.dumps(r) + "\n" for r in records)


KINDS = {  # kind -> (record builder, file name, serialiser, numeric field or None)
    "metrics": (metric, "m.csv", as_csv, "value"),
    "logs": (log, "l.jsonl", as_jsonl, None),
    "llm_traces": (trace, "t.jsonl", as_jsonl, "latency_ms"),
    "model_events": (event, "e.csv", as_csv, "price"),
    "changes": (change, "c.jsonl", as_jsonl, None),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return request.param


def ingest(landing, kind, records):
    build, name, serialise, _ = KINDS[kind]
    landing.write(kind, name, serialise(records))
    return ingest_partition(kind, landing.root, DAY, now=NOW)


def test_malformed_row(landing, kind):
    build, name, serialise, _ = KINDS[kind]
    text = serialise([build("2026-03-02T10:00:00Z")])
    broken = text + ("x,y,z,1,2,3,4,5,6,7,8,9,10\n" if name.endswith(".csv") else '{"timestamp": "2026-03-02T1\n')
    landing.write(kind, name, broken)
    result = ingest_partition(kind, landing.root, DAY, now=NOW)
    assert len(result.rows) == 1
    assert result.quarantine["reason"].tolist() == [Reason.UNPARSEABLE_ROW]
    assert result.quarantine["line"].tolist() == [3 if name.endswith(".csv") else 2]


def test_empty_file_is_one_file_error(landing, kind):
    _, name, _, _ = KINDS[kind]
    landing.write(kind, name, "")
    result = ingest_partition(kind, landing.root, DAY, now=NOW)
    assert result.rows.empty and [e.problem for e in result.file_errors] == ["empty file (0 bytes)"]


def test_duplicates(landing, kind):
    build = KINDS[kind][0]
    records = [build("2026-03-02T10:00:00Z")] * 2 + [build("2026-03-02T10:01:00Z", key="b")]
    result = ingest(landing, kind, records)
    assert len(result.rows) == 2 and result.exact_duplicates == 1 and result.quarantine.empty


def test_out_of_order_rows_come_out_sorted(landing, kind):
    build = KINDS[kind][0]
    stamps = ["2026-03-02T10:05:00Z", "2026-03-02T10:00:00Z", "2026-03-02T10:03:00Z"]
    result = ingest(landing, kind, [build(t, key=f"k{i}") for i, t in enumerate(stamps)])
    assert result.rows["timestamp"].is_monotonic_increasing or kind == "metrics"
    assert sorted(result.rows["timestamp"].dt.minute) == [0, 3, 5]
    if kind == "metrics":  # series-major order, time-sorted within each series
        assert all(g["timestamp"].is_monotonic_increasing for _, g in result.rows.groupby("metric", observed=True))


def test_wrong_timezone_is_normalised_and_naive_is_quarantined(landing, kind):
    build = KINDS[kind][0]
    records = [build("2026-03-02T11:00:00+01:00", key="k1"), build("2026-03-02T10:00:00", key="k2")]
    result = ingest(landing, kind, records)
    assert result.rows["timestamp"].tolist() == [pd.Timestamp("2026-03-02T10:00:00Z")]
    assert result.quarantine["reason"].tolist() == [Reason.NAIVE_TIMESTAMP]


@pytest.mark.parametrize("kind", [k for k, spec in sorted(KINDS.items()) if spec[3]])
def test_non_finite_numbers(landing, kind):
    build = KINDS[kind][0]
    records = [build("2026-03-02T10:00:00Z", key="k1"), build("2026-03-02T10:01:00Z", value=float("inf"), key="k2"),
               build("2026-03-02T10:02:00Z", value=float("nan"), key="k3")]
    result = ingest(landing, kind, records)
    assert len(result.rows) == 1
    reasons = result.quarantine["reason"].tolist()
    # CSV writes NaN as an empty field: that is a missing value, not a non-finite one.
    assert reasons in ([Reason.NON_FINITE, Reason.NON_FINITE], [Reason.NON_FINITE, Reason.MISSING_FIELD])


@pytest.mark.parametrize("kind", [k for k, spec in sorted(KINDS.items()) if spec[3]])
def test_values_beyond_the_physical_range(landing, kind):
    build = KINDS[kind][0]
    records = [build("2026-03-02T10:00:00Z", key="k1"), build("2026-03-02T10:01:00Z", value=1e308, key="k2"),
               build("2026-03-02T10:02:00Z", value=-0.0, key="k3")]
    result = ingest(landing, kind, records)
    assert result.quarantine["reason"].tolist() == [Reason.OUT_OF_RANGE]
    assert len(result.rows) == 2


def test_non_finite_change_timestamps_are_quarantined_not_guessed(landing):
    lines = [json.dumps(change("2026-03-02T10:00:00Z", key="k1")), '{"timestamp": NaN, "service": "api", "kind": "deploy"}',
             '{"timestamp": Infinity, "service": "api", "kind": "config"}', '{"time": 1772445720, "service": "api", "kind": "cron"}']
    landing.write("changes", "c.jsonl", "\n".join(lines) + "\n")
    result = ingest_partition("changes", landing.root, DAY, now=NOW)
    assert result.rows["kind"].astype(str).tolist() == ["deploy", "job"]  # `time` alias, `cron` read as a job
    assert sorted(result.quarantine["reason"]) == [Reason.MISSING_FIELD, Reason.UNPARSEABLE_TIMESTAMP]


def test_changes_as_csv_with_aliases_and_a_file_without_a_kind_column(landing):
    landing.write("changes", "cd.csv", "time,service,kind,detail\n2026-03-02T12:00:00+01:00,cart,Deployment,v2.1\n"
                                       "2026-03-02T12:30:00Z,cart,config_change,pool 10 -> 20\n")
    landing.write("changes", "bad.csv", "timestamp,service,detail\n2026-03-02T12:00:00Z,cart,x\n")
    result = ingest_partition("changes", landing.root, DAY, now=NOW)
    assert result.rows["kind"].astype(str).tolist() == ["deploy", "config"]
    assert result.rows["timestamp"].iloc[0] == pd.Timestamp("2026-03-02T11:00:00Z")
    assert [e.path for e in result.file_errors] == ["changes/2026-03-02/bad.csv"]
    assert "kind" in result.file_errors[0].problem
