"""Every bad-input kind is quarantined with its reason, file and line; good rows survive."""

import gzip
import io

import pandas as pd
import pytest

from ops_pipelines.lib.ingest.quarantine import Reason, reason_counts
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition

HEADER = "timestamp,service,metric,value,host\n"
GOOD = "2026-03-02T10:00:00Z,api,latency_p95_ms,120.5,h1\n"


def ingest_metrics(landing):
    return ingest_partition("metrics", landing.root, DAY, now=NOW)


def only_row(result, reason):
    rows = result.quarantine[result.quarantine["reason"] == reason]
    assert len(rows) == 1, result.quarantine[["line", "reason", "detail"]]
    return rows.iloc[0]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,1,h1,extra\n", Reason.UNPARSEABLE_ROW),
        ("2026-03-02T10:01:00Z,,latency_p95_ms,1,h1\n", Reason.MISSING_FIELD),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,,h1\n", Reason.MISSING_FIELD),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,n/a,h1\n", Reason.WRONG_TYPE),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,NaN,h1\n", Reason.NON_FINITE),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,-inf,h1\n", Reason.NON_FINITE),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,1e308,h1\n", Reason.OUT_OF_RANGE),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,-2e15,h1\n", Reason.OUT_OF_RANGE),
        ("2026-03-02T10:01:00Z,api,latency_p95_ms,1e400,h1\n", Reason.NON_FINITE),
        ("2026-03-02 10:01:00,api,latency_p95_ms,1,h1\n", Reason.NAIVE_TIMESTAMP),
        ("yesterday at noon,api,latency_p95_ms,1,h1\n", Reason.UNPARSEABLE_TIMESTAMP),
        ("2026-03-01T23:59:00Z,api,latency_p95_ms,1,h1\n", Reason.OUTSIDE_PARTITION),
        ("2026-03-03T00:00:00Z,api,latency_p95_ms,1,h1\n", Reason.OUTSIDE_PARTITION),
        ("2026-03-02T01:00:00-23:00,api,latency_p95_ms,1,h1\n", Reason.OUTSIDE_PARTITION),
    ],
)
def test_bad_row_is_quarantined_with_reason_file_and_line(landing, bad_line, reason):
    landing.write("metrics", "m.csv", HEADER + GOOD + bad_line + GOOD.replace("10:00", "10:02"))
    result = ingest_metrics(landing)
    row = only_row(result, reason)
    assert row["source_file"] == f"metrics/{DAY}/m.csv"
    assert row["line"] == 3
    assert len(result.rows) == 2
    assert reason_counts(result.quarantine)[reason] == 1
    assert len(result.quarantine) == 1


def test_the_physical_range_is_configurable_and_finite_values_in_it_are_kept(landing):
    from ops_pipelines.lib.ingest.kinds import FormatOptions

    values = ["1e15", "-1e15", "-0.0", "5e-324", "123456"]
    landing.write("metrics", "m.csv", HEADER + "".join(f"2026-03-02T10:0{i}:00Z,api,rps,{v},h1\n" for i, v in enumerate(values)))
    kept = ingest_metrics(landing)
    assert kept.quarantine.empty and kept.rows["value"].tolist() == [float(v) for v in values]
    tight = ingest_partition("metrics", landing.root, DAY, FormatOptions(max_abs_value=1000), now=NOW)
    assert tight.quarantine["line"].tolist() == [2, 3, 6]
    assert set(tight.quarantine["reason"]) == {Reason.OUT_OF_RANGE}
    assert "1000" in tight.quarantine["detail"].iloc[0]


def test_future_timestamps_are_quarantined_against_the_clock(landing):
    landing.write("metrics", "m.csv", HEADER + GOOD + "2026-03-02T23:00:00Z,api,latency_p95_ms,1,h1\n")
    result = ingest_partition("metrics", landing.root, DAY, now=pd.Timestamp("2026-03-02T12:00:00Z"))
    assert only_row(result, Reason.FUTURE_TIMESTAMP)["line"] == 3
    assert len(result.rows) == 1


def test_conflicting_duplicates_are_all_quarantined_and_exact_ones_dropped(landing):
    dup = "2026-03-02T10:05:00Z,api,latency_p95_ms,{},h1\n"
    landing.write("metrics", "m.csv", HEADER + GOOD + dup.format(1) + dup.format(2) + GOOD)
    result = ingest_metrics(landing)
    conflicts = result.quarantine[result.quarantine["reason"] == Reason.CONFLICTING_DUPLICATE]
    assert sorted(conflicts["line"]) == [3, 4]
    assert result.exact_duplicates == 1
    assert len(result.rows) == 1


def test_duplicates_across_files_conflict_too(landing):
    landing.write("metrics", "a.csv", HEADER + GOOD)
    landing.write("metrics", "b.csv", HEADER + GOOD.replace("120.5", "99"))
    result = ingest_metrics(landing)
    assert sorted(result.quarantine["source_file"]) == [f"metrics/{DAY}/a.csv", f"metrics/{DAY}/b.csv"]
    assert set(result.quarantine["reason"]) == {Reason.CONFLICTING_DUPLICATE}
    assert result.rows.empty


def test_epoch_milliseconds_are_read_as_milliseconds_and_a_mixed_unit_is_quarantined(landing):
    ms = int(pd.Timestamp("2026-03-02T10:00:00Z").timestamp() * 1000)
    lines = [f"{ms + i * 60_000},api,rps,{i},h1\n" for i in range(5)]
    lines.append(f"{(ms + 600_000) // 1000},api,rps,9,h1\n")  # seconds among milliseconds
    landing.write("metrics", "m.csv", HEADER + "".join(lines))
    result = ingest_metrics(landing)
    assert list(result.rows["timestamp"]) == list(pd.date_range("2026-03-02T10:00Z", periods=5, freq="min"))
    row = only_row(result, Reason.EPOCH_UNIT_MISMATCH)
    assert row["line"] == 7


def test_epoch_seconds_file_is_not_mistaken_for_milliseconds(landing):
    s = int(pd.Timestamp("2026-03-02T10:00:00Z").timestamp())
    landing.write("metrics", "m.csv", HEADER + f"{s},api,rps,1,h1\n{s + 60}.5,api,rps,2,h1\n")
    result = ingest_metrics(landing)
    assert result.quarantine.empty
    assert result.rows["timestamp"].iloc[1] == pd.Timestamp("2026-03-02T10:01:00.5Z")


def test_offsets_are_normalised_to_utc_and_rows_sorted(landing):
    landing.write(
        "metrics",
        "m.csv",
        HEADER + "2026-03-02T12:00:00+02:00,api,rps,2,h1\n2026-03-02T09:00:00Z,api,rps,1,h1\n2026-03-02T05:30:00-05:00,api,rps,3,h1\n",
    )
    result = ingest_metrics(landing)
    assert str(result.rows["timestamp"].dt.tz) == "UTC"
    assert list(result.rows["value"]) == [1.0, 2.0, 3.0]
    assert list(result.rows["timestamp"].dt.hour) == [9, 10, 10]


def test_naive_timestamps_can_be_read_in_a_configured_zone(landing):
    from ops_pipelines.lib.ingest.kinds import FormatOptions

    landing.write("metrics", "m.csv", HEADER + "2026-03-02 10:00:00,api,rps,1,h1\n")
    result = ingest_partition("metrics", landing.root, DAY, FormatOptions(naive_timezone="Europe/Berlin"), now=NOW)
    assert result.rows["timestamp"].iloc[0] == pd.Timestamp("2026-03-02T09:00:00Z")


def _gzip(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(text.encode())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("garbage.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary"),
        ("truncated.csv.gz", _gzip(HEADER + GOOD * 2000)[:300], "gzip"),
        ("empty.csv", b"", "empty"),
        ("utf16.csv", (HEADER + GOOD).encode("utf-16"), "UTF-16"),
        ("nocolumns.csv", b"when,what\n1,2\n", "missing required columns"),
        ("metrics.xlsx", b"PK\x03\x04", "unsupported"),
    ],
)
def test_unreadable_file_gives_one_clear_error_and_the_good_file_still_ingests(landing, name, content, problem):
    landing.write("metrics", "good.csv", HEADER + GOOD)
    landing.write("metrics", name, content)
    result = ingest_metrics(landing)
    assert len(result.rows) == 1
    assert len(result.file_errors) == 1
    error = result.file_errors[0]
    assert error.path == f"metrics/{DAY}/{name}"
    assert problem.lower() in error.problem.lower()
    row = only_row(result, Reason.UNREADABLE_FILE)
    assert row["source_file"] == error.path


def test_gzip_csv_is_read(landing):
    landing.write("metrics", "m.csv.gz", _gzip(HEADER + GOOD))
    result = ingest_metrics(landing)
    assert len(result.rows) == 1 and result.quarantine.empty


def test_empty_partition_and_header_only_file_give_empty_typed_rows(landing):
    assert ingest_metrics(landing).rows.empty
    landing.write("metrics", "m.csv", HEADER)
    result = ingest_metrics(landing)
    assert result.rows.empty and result.quarantine.empty and not result.file_errors


def test_interleaved_repeats_of_one_key_keep_the_first_and_quarantine_the_disagreement(landing):
    row = "2026-03-02T10:05:00Z,api,latency_p95_ms,{},h1\n"
    landing.write("metrics", "m.csv", HEADER + row.format(1) + GOOD + row.format(2) + row.format(1))
    result = ingest_metrics(landing)
    assert result.exact_duplicates == 1
    assert sorted(result.quarantine["line"]) == [2, 4]
    assert set(result.quarantine["reason"]) == {Reason.CONFLICTING_DUPLICATE}
