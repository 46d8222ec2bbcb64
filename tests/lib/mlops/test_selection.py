"""Training-row selection: window, unusable rows, incident windows, counts that add up; holdout split."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import IncidentExclusion, TrainingSpec, model_spec
from ops_pipelines.lib.mlops.datasets import content_version
from ops_pipelines.lib.mlops.selection import (
    REASONS,
    affected_list,
    select_training_rows,
    split_holdout,
)

SPEC = model_spec("ctr_logreg")  # exclude_incidents: any service, 15 minutes of padding
START = pd.Timestamp("2026-03-02T00:00:00Z")
END = pd.Timestamp("2026-03-03T00:00:00Z")
COLUMNS = ["timestamp", "position", "item_popularity", "price", "category", "user_segment", "device", "country", "clicked"]


def events(times, seed: int = 0) -> pd.DataFrame:
    """Model events at the given UTC times (strings or Timestamps), with ids and random features."""
    rng = np.random.default_rng(seed)
    n = len(times)
    return pd.DataFrame({
        "event_id": [f"ev-{i:05d}" for i in range(n)],
        "timestamp": pd.to_datetime(pd.Series(times), utc=True),
        "user_id": [f"u{i % 7}" for i in range(n)],
        "item_id": [f"I{i % 11}" for i in range(n)],
        "category": rng.choice(["books", "home", "toys"], n),
        "price": np.round(rng.uniform(5, 80, n), 2),
        "user_segment": rng.choice(["casual", "premium"], n),
        "device": rng.choice(["mobile", "desktop"], n),
        "country": rng.choice(["DE", "FR"], n),
        "position": rng.integers(1, 21, n).astype(float),
        "item_popularity": rng.random(n),
        "clicked": rng.integers(0, 2, n).astype(float),
    })


def minutes(start: str, count: int, every: int = 1) -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=count, freq=f"{every}min", tz="UTC"))


def incidents(*rows) -> pd.DataFrame:
    """(id, start, end or None, affected services)."""
    return pd.DataFrame({
        "incident_id": [r[0] for r in rows],
        "start": pd.to_datetime([r[1] for r in rows], utc=True),
        "end": pd.to_datetime([r[2] for r in rows], utc=True),
        "severity": "major",
        "root_cause": [r[3][0] for r in rows],
        "affected_services": [r[3] for r in rows],
    })


def test_every_removed_row_is_counted_under_one_reason():
    inside = minutes("2026-03-02T01:00Z", 100, every=10)  # 01:00 .. 17:30, every 10 minutes
    outside = ["2026-03-01T23:59:59Z", "2026-03-03T00:00:00Z", "2026-03-04T12:00:00Z"]
    frame = events(inside + outside)
    frame.loc[5, "clicked"] = np.nan  # 01:50
    frame.loc[6, "clicked"] = np.nan  # 02:00
    frame = pd.concat([frame, frame.iloc[[10, 11]]], ignore_index=True)  # exact copies of 02:40 and 02:50
    no_time = frame.iloc[[0]].copy()
    no_time["timestamp"] = pd.Series([pd.NaT], index=no_time.index, dtype="datetime64[ns, UTC]")
    frame = pd.concat([frame, no_time], ignore_index=True)
    # 10:00-10:20 padded by 15 minutes: 09:45 .. 10:35 holds 09:50, 10:00, ..., 10:30 = 5 rows
    inc = incidents(("INC-1", "2026-03-02T10:00Z", "2026-03-02T10:20Z", ["cart"]),
                    ("INC-2", "2026-03-05T10:00Z", "2026-03-05T11:00Z", ["cart"]))  # after the window: no rows
    sel = select_training_rows(frame, SPEC, START, END, inc)
    assert sel.excluded == {"missing_timestamp": 1, "outside_window": 3, "duplicate_row": 2, "missing_target": 2,
                            "incident_window": 5}
    assert len(sel.rows) + sum(sel.excluded.values()) == len(frame)
    assert sel.rows.shape[0] == 100 - 2 - 5
    assert sel.incident_ids == ["INC-1"]
    kept = sel.rows["timestamp"]
    assert not kept.between(pd.Timestamp("2026-03-02T09:45Z"), pd.Timestamp("2026-03-02T10:35Z")).any()
    assert list(sel.rows.columns) == COLUMNS
    assert list(sel.excluded) == [r for r in REASONS if r in sel.excluded]


def test_a_row_outside_the_window_is_counted_once_even_when_it_also_lacks_a_target():
    frame = events(["2026-03-01T12:00Z", "2026-03-02T12:00Z"])
    frame["clicked"] = np.nan
    sel = select_training_rows(frame, SPEC, START, END, None)
    assert sel.excluded == {"outside_window": 1, "missing_target": 1}
    assert sel.rows.empty


def test_padding_applies_on_both_sides_and_is_inclusive():
    edge = ["2026-03-02T09:44:59Z", "2026-03-02T09:45:00Z", "2026-03-02T10:35:00Z", "2026-03-02T10:35:01Z"]
    frame = events(edge)
    sel = select_training_rows(frame, SPEC, START, END, incidents(("I", "2026-03-02T10:00Z", "2026-03-02T10:20Z", ["x"])))
    assert list(sel.rows["timestamp"]) == [pd.Timestamp(edge[0]), pd.Timestamp(edge[3])]
    assert sel.excluded == {"incident_window": 2}


def test_service_filter_keeps_rows_of_incidents_elsewhere_and_reads_every_affected_services_shape():
    spec = dataclasses.replace(SPEC, exclude_incidents=IncidentExclusion(services=("recommendations",), padding_minutes=0))
    frame = events(minutes("2026-03-02T00:00Z", 24, every=60))  # one row per hour
    inc = incidents(("LIST", "2026-03-02T01:00Z", "2026-03-02T01:00Z", ["cart", "recommendations"]),
                    ("OTHER", "2026-03-02T03:00Z", "2026-03-02T03:00Z", ["cart"]),
                    ("ARRAY", "2026-03-02T05:00Z", "2026-03-02T05:00Z", ["x"]),
                    ("JSON", "2026-03-02T07:00Z", "2026-03-02T07:00Z", ["x"]),
                    ("CSV", "2026-03-02T09:00Z", "2026-03-02T09:00Z", ["x"]))
    inc["affected_services"] = pd.Series([["cart", "recommendations"], ["cart"], np.array(["recommendations"]),
                                          '["search", "recommendations"]', "search, recommendations"], dtype=object)
    sel = select_training_rows(frame, spec, START, END, inc)
    assert sel.incident_ids == ["ARRAY", "CSV", "JSON", "LIST"]
    hours = set(sel.rows["timestamp"].dt.hour)
    assert {1, 5, 7, 9}.isdisjoint(hours) and 3 in hours
    assert sel.excluded == {"incident_window": 4}


def test_no_exclusion_when_the_spec_has_none_and_lineage_says_so():
    spec = model_spec("incident_risk")
    assert spec.exclude_incidents is None
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2026-03-02", periods=6, freq="5min", tz="UTC"),
        "service": ["cart"] * 6,
        **{c: np.linspace(0.1, 0.6, 6) for c in spec.numeric},
        "incident_within_30m": np.array([0, 0, 1, 1, 0, 0], dtype=np.int8),
    })
    sel = select_training_rows(frame, spec, START, END, incidents(("I", "2026-03-02T00:00Z", "2026-03-02T01:00Z", ["cart"])))
    assert len(sel.rows) == 6 and sel.excluded == {} and sel.incident_ids == []
    assert sel.to_lineage()["incident_exclusion"] == {"enabled": False}


def test_an_incident_without_an_end_covers_the_rest_of_the_window():
    frame = events(minutes("2026-03-02T20:00Z", 8, every=30))  # 20:00 .. 23:30
    sel = select_training_rows(frame, SPEC, START, END, incidents(("OPEN", "2026-03-02T22:00Z", None, ["db"])))
    assert sel.rows["timestamp"].max() < pd.Timestamp("2026-03-02T21:45Z")
    assert sel.excluded == {"incident_window": 4}


def test_malformed_incidents_are_an_error_not_a_silent_skip():
    frame = events(["2026-03-02T12:00Z"])
    no_start = incidents(("I", None, "2026-03-02T12:00Z", ["db"]))
    with pytest.raises(ValueError, match="without a start"):
        select_training_rows(frame, SPEC, START, END, no_start)
    with pytest.raises(ValueError, match="lack columns"):
        select_training_rows(frame, SPEC, START, END, pd.DataFrame({"incident_id": ["I"]}))


def test_empty_incidents_and_none_exclude_nothing():
    frame = events(minutes("2026-03-02T00:00Z", 10))
    for inc in (None, incidents().iloc[:0], pd.DataFrame()):
        sel = select_training_rows(frame, SPEC, START, END, inc)
        assert len(sel.rows) == 10 and sel.excluded == {}


def test_input_order_and_duplicates_do_not_change_the_dataset_content():
    frame = events(minutes("2026-03-02T03:00Z", 300) * 2)  # every timestamp twice, different rows
    a = select_training_rows(frame, SPEC, START, END, None).rows
    shuffled = frame.sample(frac=1.0, random_state=7)
    b = select_training_rows(pd.concat([shuffled, shuffled.iloc[:50]]), SPEC, START, END, None)
    pd.testing.assert_frame_equal(a, b.rows)
    assert content_version(a) == content_version(b.rows)
    assert b.excluded == {"duplicate_row": 50}
    assert a["timestamp"].is_monotonic_increasing


def test_list_valued_extra_columns_do_not_break_duplicate_detection():
    frame = events(minutes("2026-03-02T03:00Z", 5))
    frame["tags"] = [["a"], ["b"], ["a", "b"], [], ["c"]]
    sel = select_training_rows(pd.concat([frame, frame.iloc[[2]]], ignore_index=True), SPEC, START, END, None)
    assert sel.excluded == {"duplicate_row": 1} and len(sel.rows) == 5


def test_timezone_naive_timestamps_are_rejected_and_other_zones_are_converted():
    frame = events(minutes("2026-03-02T05:00Z", 20))
    naive = frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None))
    with pytest.raises(TypeError, match="tz-aware"):
        select_training_rows(naive, SPEC, START, END, None)
    with pytest.raises(TypeError, match="naive"):
        select_training_rows(frame, SPEC, pd.Timestamp("2026-03-02"), END, None)
    with pytest.raises(TypeError, match="tz-aware"):
        select_training_rows(frame.assign(timestamp=frame["timestamp"].astype(str)), SPEC, START, END, None)
    berlin = frame.assign(timestamp=frame["timestamp"].dt.tz_convert("Europe/Berlin"))
    sel = select_training_rows(berlin, SPEC, START.tz_convert("America/New_York"), END, None)
    pd.testing.assert_frame_equal(sel.rows, select_training_rows(frame, SPEC, START, END, None).rows)
    assert str(sel.rows["timestamp"].dt.tz) == "UTC"


def test_non_finite_features_are_kept_for_validation_to_judge():
    frame = events(minutes("2026-03-02T05:00Z", 20))
    frame.loc[[3, 4], "price"] = [np.nan, np.inf]
    sel = select_training_rows(frame, SPEC, START, END, None)
    assert len(sel.rows) == 20
    assert sel.rows["price"].isna().sum() == 1 and np.isinf(sel.rows["price"]).sum() == 1


def test_target_becomes_int8_only_when_that_loses_nothing():
    frame = events(minutes("2026-03-02T05:00Z", 4))
    assert select_training_rows(frame, SPEC, START, END, None).rows["clicked"].dtype == np.int8
    frame.loc[0, "clicked"] = 0.5
    rows = select_training_rows(frame, SPEC, START, END, None).rows
    assert rows["clicked"].dtype == np.float64 and 0.5 in set(rows["clicked"])


def test_categorical_dtypes_come_out_as_plain_strings():
    frame = events(minutes("2026-03-02T05:00Z", 30))
    as_category = frame.astype({"category": "category", "device": "category"})
    a = select_training_rows(frame, SPEC, START, END, None).rows
    b = select_training_rows(as_category, SPEC, START, END, None).rows
    pd.testing.assert_frame_equal(a, b)


def test_empty_and_malformed_frames():
    empty = events([])
    sel = select_training_rows(empty, SPEC, START, END, None)
    assert sel.rows.empty and list(sel.rows.columns) == COLUMNS and sel.excluded == {}
    with pytest.raises(ValueError, match="price"):
        select_training_rows(empty.drop(columns=["price"]), SPEC, START, END, None)
    with pytest.raises(ValueError, match="empty training window"):
        select_training_rows(empty, SPEC, END, START, None)


def test_lineage_is_json_and_reports_the_window_and_counts():
    frame = events(minutes("2026-03-01T23:00Z", 120))  # 60 before the window, 60 inside
    sel = select_training_rows(frame, SPEC, START, END, incidents(("I", "2026-03-02T00:30Z", "2026-03-02T00:30Z", ["a"])))
    lineage = json.loads(json.dumps(sel.to_lineage()))
    assert lineage["rows_in"] == 120 and lineage["rows"] == len(sel.rows)
    assert lineage["excluded"] == {"outside_window": 60, "incident_window": 31}  # 00:15 .. 00:45 inclusive
    assert lineage["window_start"] == START.isoformat() and lineage["incident_ids"] == ["I"]
    assert lineage["incident_exclusion"]["padding_minutes"] == 15


def test_affected_list_shapes():
    assert affected_list(None) == [] and affected_list(float("nan")) == []
    assert affected_list(np.array(["a", "b"])) == ["a", "b"]
    assert affected_list('["a"]') == ["a"] and affected_list("a, b") == ["a", "b"]


# --- holdout -------------------------------------------------------------------------------------

def test_holdout_is_the_latest_share_and_strictly_later_than_training():
    rows = select_training_rows(events(minutes("2026-03-02T00:00Z", 400)), SPEC, START, END, None).rows
    train, hold = split_holdout(rows, SPEC)
    assert len(hold) == 100 and len(train) == 300  # 25% of 400 distinct times
    assert train["timestamp"].max() < hold["timestamp"].min()
    pd.testing.assert_frame_equal(pd.concat([train, hold], ignore_index=True), rows)


def test_rows_sharing_the_boundary_time_all_go_to_the_holdout():
    times = minutes("2026-03-02T00:00Z", 6) + ["2026-03-02T00:05Z"] * 4  # 00:05 appears 5 times
    rows = events(times).sample(frac=1.0, random_state=3)  # out of order on purpose
    spec = dataclasses.replace(SPEC, training=TrainingSpec(holdout_share=0.3))
    train, hold = split_holdout(rows, spec)
    # 3 holdout rows are asked for; the 3rd-latest is at 00:05, so all five 00:05 rows go with it
    assert len(hold) == 5 and set(hold["timestamp"]) == {pd.Timestamp("2026-03-02T00:05Z")}
    assert len(train) == 5 and train["timestamp"].max() < hold["timestamp"].min()
    assert train["timestamp"].is_monotonic_increasing


def test_holdout_refuses_what_it_cannot_split():
    with pytest.raises(ValueError, match="no rows"):
        split_holdout(events([]), SPEC)
    with pytest.raises(ValueError, match="more than one time"):
        split_holdout(events(["2026-03-02T01:00Z"] * 5), SPEC)
    with pytest.raises(ValueError, match="holdout_share"):
        split_holdout(events(["2026-03-02T01:00Z"]), dataclasses.replace(SPEC, training=TrainingSpec(holdout_share=1.0)))
