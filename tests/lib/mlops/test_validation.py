"""Training-set gates: the GX suites per source, the non-finite check GX cannot do, the schema check."""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import SUITES_DIR, load_models, model_spec
from ops_pipelines.lib.mlops.validation import (
    load_suite,
    read_suite,
    suite_path,
    validate_dataset,
)
from ops_pipelines.settings import ASSETS_DIR

CTR = model_spec("ctr_logreg")
RISK = model_spec("incident_risk")
N = 600
MIN_ROWS = 500  # the configured floor (5000) is for real windows; tests pass their own


def clicks(n: int = N, seed: int = 0) -> pd.DataFrame:
    """A clean selected training set for the ctr models, in the shape selection produces."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "timestamp": pd.date_range("2026-03-02", periods=n, freq="37s", tz="UTC"),
        "position": rng.integers(1, 21, n).astype(float),
        "item_popularity": rng.random(n),
        "price": np.round(rng.uniform(1, 300, n), 2),
        "category": rng.choice(["books", "home", "smart-home"], n).astype(object),
        "user_segment": rng.choice(["bargain_hunter", "casual", "new_user", "premium"], n).astype(object),
        "device": rng.choice(["desktop", "mobile", "tablet"], n).astype(object),
        "country": rng.choice(["DE", "FR", "AT"], n).astype(object),
        "clicked": rng.integers(0, 2, n).astype(np.int8),
    })


def risk_rows(n_steps: int = 150, seed: int = 0) -> pd.DataFrame:
    """Incident-risk features for two services."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-03-02", periods=n_steps, freq="5min", tz="UTC")
    n = 2 * n_steps
    return pd.DataFrame({
        "timestamp": ts.repeat(2), "service": np.tile(np.array(["cart", "search"], dtype=object), n_steps),
        "cpu_utilization": rng.uniform(0.1, 0.8, n), "memory_utilization": rng.uniform(0.3, 0.9, n),
        "latency_p95_ms": rng.uniform(20, 900, n), "error_rate": rng.uniform(0, 0.02, n),
        "request_rate": rng.uniform(1, 500, n), "cpu_change": rng.uniform(-0.2, 0.2, n),
        "latency_ratio": rng.uniform(0.5, 3, n), "error_ratio": rng.uniform(0, 4, n),
        "incident_within_30m": (rng.random(n) < 0.1).astype(np.int8),
    })


def by_type(result, kind: str, column: str) -> dict:
    found = [e for e in result.expectations if e["type"] == kind and e["column"] == column]
    assert len(found) == 1, (kind, column)
    return found[0]


@pytest.fixture(scope="module")
def clean():
    return validate_dataset(clicks(), CTR, min_rows=MIN_ROWS)


@pytest.fixture(scope="module")
def burst():
    frame = clicks()
    frame.loc[100:129, "price"] = np.nan  # 30 NaN
    frame.loc[400:409, "price"] = np.inf  # 10 inf
    return validate_dataset(frame, CTR, min_rows=MIN_ROWS)


BAD_VALUES = {  # row -> (column, value, the expectation that must catch it)
    5: ("device", "fridge", "expect_column_values_to_be_in_set"),
    6: ("user_segment", "vip", "expect_column_values_to_be_in_set"),
    7: ("clicked", 2, "expect_column_values_to_be_in_set"),
    8: ("price", 0.0, "expect_column_values_to_be_between"),
    9: ("position", 21.0, "expect_column_values_to_be_between"),
    10: ("item_popularity", 1.5, "expect_column_values_to_be_between"),
    11: ("country", "Germany", "expect_column_values_to_match_regex"),
    12: ("category", None, "expect_column_values_to_not_be_null"),
}


@pytest.fixture(scope="module")
def bad_values():
    frame = clicks()
    for row, (column, value, _) in BAD_VALUES.items():
        frame.loc[row, column] = value
    return validate_dataset(frame, CTR, min_rows=MIN_ROWS)


def test_a_clean_training_set_passes(clean):
    assert clean.passed, clean.failures()
    assert clean.failures() == [] and clean.schema_problems == []
    assert all(e["success"] for e in clean.expectations)
    assert set(clean.non_finite_share) == {"position", "item_popularity", "price", "clicked"}
    assert all(share == 0.0 for share in clean.non_finite_share.values())
    assert by_type(clean, "expect_table_row_count_to_be_between", "")["observed"] == N


def test_a_nan_and_inf_burst_in_price_fails_although_every_gx_expectation_passes(burst):
    assert all(e["success"] for e in burst.expectations)  # GX alone would let this through
    assert not burst.passed
    assert burst.non_finite_share["price"] == pytest.approx(40 / N)
    assert burst.non_finite_share["position"] == 0.0
    assert any("price" in line and "non-finite" in line for line in burst.failures())


def test_each_bad_value_is_caught_by_its_expectation(bad_values):
    assert not bad_values.passed
    for column, value, kind in BAD_VALUES.values():
        found = by_type(bad_values, kind, column)
        assert not found["success"] and found["unexpected_count"] == 1, (column, found)
        if value is not None:
            assert found["observed"] == [value]
    failed = {(e["type"], e["column"]) for e in bad_values.expectations if not e["success"]}
    assert failed == {(kind, column) for column, _, kind in BAD_VALUES.values()}
    assert any("fridge" in line for line in bad_values.failures())


def test_too_few_rows_fails_on_the_configured_floor_only():
    result = validate_dataset(clicks(), CTR)  # the spec's min_rows (5000) applies
    assert CTR.training.min_rows > N and not result.passed
    count = by_type(result, "expect_table_row_count_to_be_between", "")
    assert not count["success"] and count["observed"] == N
    assert [e for e in result.expectations if not e["success"]] == [count]


def test_schema_problems_are_reported_without_crashing_gx():
    frame = clicks().drop(columns=["country"])
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    frame["price"] = frame["price"].astype(str)
    result = validate_dataset(frame, CTR, min_rows=MIN_ROWS)
    assert not result.passed
    problems = " | ".join(result.schema_problems)
    assert "'country'" in problems and "'timestamp'" in problems and "'price'" in problems
    assert len(result.schema_problems) == 3
    assert not by_type(result, "expect_column_to_exist", "country")["success"]
    assert "price" not in result.non_finite_share  # text is a schema problem, not a non-finite share


def test_an_empty_frame_fails_cleanly():
    result = validate_dataset(clicks().iloc[:0], CTR, min_rows=MIN_ROWS)
    assert not result.passed and result.rows == 0
    assert all(share == 0.0 for share in result.non_finite_share.values())
    assert any("row_count" in line for line in result.failures())


def test_metadata_is_flat_and_json(clean, bad_values):
    for result in (clean, bad_values):
        meta = result.to_metadata()
        assert all(isinstance(v, (bool, int, float, str)) for v in meta.values())
        json.dumps(meta)
    assert clean.to_metadata()["passed"] is True and "failures" not in clean.to_metadata()
    meta = bad_values.to_metadata()
    assert meta["passed"] is False and meta["expectations_failed"] == len(BAD_VALUES)
    assert meta["unexpected_percent.expect_column_values_to_be_in_set.device"] == pytest.approx(100 / N)


# --- incident-risk features ------------------------------------------------------------------------

def test_a_selected_incident_risk_dataset_keeps_its_key_and_passes_its_suite():
    # the service is a key, not a feature: the dataset version must still carry it, or the
    # suite's one-row-per-service-and-step expectation fails every retraining
    from ops_pipelines.lib.mlops.selection import select_training_rows

    assert RISK.keys == ("service",) and "service" not in RISK.features
    frame = risk_rows()
    sel = select_training_rows(frame, RISK, frame["timestamp"].min(), frame["timestamp"].max() + pd.Timedelta("5min"), None)
    assert "service" in sel.rows.columns and len(sel.rows) == len(frame)
    result = validate_dataset(sel.rows, RISK, min_rows=100)
    assert result.passed, result.failures()


def test_incident_risk_features_tolerate_a_few_gaps_but_not_missing_telemetry():
    gappy = risk_rows()
    gappy.loc[:5, "cpu_utilization"] = np.nan  # 6 of 300 = 2%: scrape gaps, imputed later
    ok = validate_dataset(gappy, RISK, min_rows=100)
    assert ok.passed, ok.failures()
    broken = risk_rows()
    broken.loc[:59, "latency_p95_ms"] = np.nan  # 20%
    broken.loc[70, "incident_within_30m"] = 3
    broken = pd.concat([broken, broken.iloc[[80]]], ignore_index=True)  # the same service and step twice
    bad = validate_dataset(broken, RISK, min_rows=100)
    assert not bad.passed
    assert bad.non_finite_share["latency_p95_ms"] == pytest.approx(60 / 301)
    assert not by_type(bad, "expect_compound_columns_to_be_unique", "timestamp,service")["success"]
    assert not by_type(bad, "expect_column_values_to_be_in_set", "incident_within_30m")["success"]
    assert bad.non_finite_limits["incident_within_30m"] == 0.0 < bad.non_finite_limits["latency_p95_ms"]


# --- the suite files ----------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["model_events", "incident_risk_features"])
def test_suite_files_round_trip_through_gx(source):
    raw = read_suite(suite_path(source))
    dumped = load_suite(suite_path(source)).to_json_dict()
    assert dumped["name"] == raw["name"] == source
    assert dumped["expectations"] == raw["expectations"]
    assert dumped["meta"]["ops_pipelines"] == raw["meta"]["ops_pipelines"]


def test_every_configured_model_has_a_suite_that_checks_its_columns():
    for spec in load_models():
        raw = read_suite(suite_path(spec.source))
        exist = {e["kwargs"]["column"] for e in raw["expectations"] if e["type"] == "expect_column_to_exist"}
        assert {spec.time_column, *spec.features, spec.target} <= exist, spec.name
        kinds = {e["type"] for e in raw["expectations"]}
        assert "expect_table_row_count_to_be_between" in kinds
    assert sorted(p.name for p in SUITES_DIR.glob("*.json")) == sorted({f"{s.source}.json" for s in load_models()})


def test_model_events_suite_agrees_with_the_sample_world():
    world = json.loads((ASSETS_DIR / "sim" / "world.json").read_text())["recsys"]
    raw = read_suite(suite_path("model_events"))
    kwargs = {(e["type"], e["kwargs"].get("column")): e["kwargs"] for e in raw["expectations"]}
    assert kwargs[("expect_column_values_to_be_between", "position")]["max_value"] == world["max_position"]
    assert set(kwargs[("expect_column_values_to_be_in_set", "device")]["value_set"]) == set(world["devices"])
    assert set(kwargs[("expect_column_values_to_be_in_set", "user_segment")]["value_set"]) == set(world["segments"])
    countries = kwargs[("expect_column_values_to_match_regex", "country")]["regex"]
    assert all(pd.Series(list(world["countries"])).str.match(countries))


def test_unreadable_suites_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no expectation suite"):
        validate_dataset(clicks(), CTR, suite_file=tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        read_suite(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text(json.dumps([{"type": "expect_column_to_exist"}]))
    with pytest.raises(ValueError, match="expectations"):
        read_suite(tmp_path / "list.json")
