"""Each accepted export format is read into the same typed rows."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ops_pipelines.lib.ingest.kinds import FormatOptions
from ops_pipelines.lib.ingest.quarantine import Reason
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition


def test_prometheus_query_range_json(landing):
    t0 = pd.Timestamp("2026-03-02T10:00:00Z").timestamp()
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"__name__": "cpu_utilization", "service": "payments", "instance": "pay-1"},
                 "values": [[t0, "0.5"], [t0 + 60, "0.6"], [t0 + 120, "NaN"], [t0 + 180]]},
                {"metric": {"__name__": "request_rate", "job": "search"}, "values": [[t0, "12"]]},
            ],
        },
    }
    landing.write("metrics", "prom/payments.json", json.dumps(doc))
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    rows = result.rows
    assert len(rows) == 3
    cpu = rows[rows["metric"] == "cpu_utilization"]
    assert list(cpu["value"]) == [0.5, 0.6] and set(cpu["host"]) == {"pay-1"}
    assert rows[rows["metric"] == "request_rate"]["service"].tolist() == ["search"]
    assert sorted(result.quarantine["reason"]) == [Reason.NON_FINITE, Reason.UNPARSEABLE_ROW]
    assert "result[0].values[3]" in " ".join(result.quarantine["detail"])


def test_prometheus_error_response_is_a_file_error(landing):
    landing.write("metrics", "p.json", json.dumps({"status": "error", "error": "bad query"}))
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.file_errors) == 1 and "Prometheus" in result.file_errors[0].problem


def test_single_series_csv_takes_its_name_from_the_path(landing):
    landing.write("metrics", "realTraffic/speed_6005.csv", "timestamp,value\n2026-03-02T00:00:00Z,61\n2026-03-02T00:05:00Z,58\n")
    landing.write("metrics", "top.csv", "timestamp,value\n2026-03-02T00:00:00Z,1\n")
    rows = ingest_partition("metrics", landing.root, DAY, now=NOW).rows
    assert set(zip(rows["service"], rows["metric"])) == {("realTraffic", "speed_6005"), ("default", "top")}
    assert rows.loc[rows["metric"] == "speed_6005", "value"].tolist() == [61.0, 58.0]


def test_long_parquet_metrics_keep_nulls_apart_from_nan(landing):
    path = landing.root / "metrics" / DAY / "m.parquet"
    path.parent.mkdir(parents=True)
    table = pa.table({
        "timestamp": pa.array(pd.to_datetime(["2026-03-02T01:00Z", "2026-03-02T01:01Z", "2026-03-02T01:02Z"], utc=True)),
        "service": ["a", "a", "a"], "metric": ["m", "m", "m"], "value": pa.array([1.0, None, float("nan")]),
    })
    pq.write_table(table, path)
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 1
    assert dict(zip(result.quarantine["line"], result.quarantine["reason"])) == {2: Reason.MISSING_FIELD, 3: Reason.NON_FINITE}


def test_naive_parquet_timestamps_are_quarantined(landing):
    path = landing.root / "metrics" / DAY / "m.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-02T01:00"]), "service": ["a"], "metric": ["m"], "value": [1.0]}).to_parquet(path)
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert result.quarantine["reason"].tolist() == [Reason.NAIVE_TIMESTAMP]


def test_plain_text_logs_with_default_and_custom_pattern(landing):
    landing.write("logs", "erp.log", "2026-03-02T00:00:05.123Z warning [legacy-erp] erp-1 batch 17 slow\nnot a log line\n")
    result = ingest_partition("logs", landing.root, DAY, now=NOW)
    assert result.rows[["service", "host", "level", "message"]].values.tolist() == [["legacy-erp", "erp-1", "WARN", "batch 17 slow"]]
    assert result.quarantine[["line", "reason"]].values.tolist() == [[2, Reason.UNPARSEABLE_ROW]]

    landing.write("logs", "erp.log", "erp-1|legacy-erp|ERROR|2026-03-02T00:00:05Z|disk full\n")
    custom = FormatOptions(log_pattern=r"(?P<host>[^|]+)\|(?P<service>[^|]+)\|(?P<level>[^|]+)\|(?P<timestamp>[^|]+)\|(?P<message>.*)")
    rows = ingest_partition("logs", landing.root, DAY, custom, now=NOW).rows
    assert rows["message"].tolist() == ["disk full"] and rows["level"].tolist() == ["ERROR"]


def test_llm_trace_contexts_accept_string_or_list(landing):
    base = {"trace_id": "t1", "timestamp": "2026-03-02T10:00:00Z", "app": "support", "model": "m", "prompt_template_id": "p",
            "prompt_version": "v1", "question": "q?", "answer": "a", "latency_ms": 120, "input_tokens": 10, "output_tokens": 5}
    lines = [
        json.dumps({**base, "contexts": ["c1", "c2"]}),
        json.dumps({**base, "trace_id": "t2", "context": "only one"}),
        json.dumps({**base, "trace_id": "t3", "contexts": [1, 2]}),
        json.dumps({**base, "trace_id": "t4", "contexts": [], "latency_ms": -5}),
        json.dumps({**base, "trace_id": "t5", "contexts": [], "input_tokens": None}),
    ]
    landing.write("llm_traces", "t.jsonl", "\n".join(lines) + "\n")
    result = ingest_partition("llm_traces", landing.root, DAY, now=NOW)
    rows = result.rows.set_index("trace_id")
    assert rows.loc["t1", "contexts"] == ["c1", "c2"] and rows.loc["t2", "contexts"] == ["only one"]
    assert pd.isna(rows.loc["t5", "input_tokens"])
    assert dict(zip(result.quarantine["line"], result.quarantine["reason"])) == {3: Reason.WRONG_TYPE, 4: Reason.WRONG_TYPE}


def test_model_events_keep_extra_feature_columns(landing):
    landing.write(
        "model_events",
        "e.csv",
        "event_id,timestamp,user_id,item_id,category,price,position,clicked,discount_band\n"
        "e1,2026-03-02T10:00:00Z,u1,i1,books,12.5,1,0,low\n"
        "e2,2026-03-02T10:00:01Z,u1,i2,books,-3,2,1,high\n",
    )
    result = ingest_partition("model_events", landing.root, DAY, now=NOW)
    assert result.rows["discount_band"].tolist() == ["low"]
    assert result.quarantine[["line", "reason"]].values.tolist() == [[3, Reason.WRONG_TYPE]]
