"""rollup() against the DuckDB query it replaced (the oracle below), and its input contract."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.rollups import ROLLUP_COLUMNS, rollup


def duckdb_rollup(scored: pd.DataFrame) -> pd.DataFrame:
    """The DuckDB implementation rollup() had until 2026-11, kept verbatim as the oracle."""
    import duckdb

    if scored.empty:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.register("scored", scored[["timestamp", "service", "metric", "anomaly_score", "is_anomaly"]])
    hourly = con.execute("""
        SELECT date_trunc('hour', timestamp) AS period_start, service, metric,
               count(*) AS points, count(*) FILTER (WHERE is_anomaly) AS anomalies,
               max(anomaly_score) AS max_score, sum(anomaly_score) AS score_sum,
               min(timestamp) FILTER (WHERE is_anomaly) AS first_anomaly,
               max(timestamp) FILTER (WHERE is_anomaly) AS last_anomaly
        FROM scored GROUP BY ALL
    """).df()
    con.close()
    for col in ("period_start", "first_anomaly", "last_anomaly"):
        hourly[col] = pd.to_datetime(hourly[col], utc=True)
    hourly["service"] = hourly["service"].astype(str)
    hourly["metric"] = hourly["metric"].astype(str)
    daily = hourly.assign(period_start=hourly["period_start"].dt.floor("D")).groupby(
        ["period_start", "service", "metric"], as_index=False
    ).agg(points=("points", "sum"), anomalies=("anomalies", "sum"), max_score=("max_score", "max"),
          score_sum=("score_sum", "sum"), first_anomaly=("first_anomaly", "min"), last_anomaly=("last_anomaly", "max"))
    out = pd.concat([hourly.assign(granularity="hour"), daily.assign(granularity="day")], ignore_index=True)
    out["mean_score"] = (out["score_sum"] / out["points"]).round(9)
    out["points"] = out["points"].astype("int64")
    out["anomalies"] = out["anomalies"].astype("int64")
    out = out.sort_values(["granularity", "period_start", "service", "metric"], ascending=[False, True, True, True])
    return out[ROLLUP_COLUMNS].reset_index(drop=True)


def world(seed: int, series: int = 12, minutes: int = 3 * 1440, start: str = "2026-03-01 21:17") -> pd.DataFrame:
    """Scored points with gaps, NaN scores, all-clean series, a single-anomaly series, several days
    and midnights, seconds that are not whole minutes, shuffled rows."""
    rng = np.random.default_rng(seed)
    t = pd.date_range(start, periods=minutes, freq="min", tz="UTC") + pd.to_timedelta(rng.integers(0, 59, minutes), unit="s")
    frames = []
    for i in range(series):
        keep = rng.random(minutes) > (0.3 if i % 3 == 0 else 0.02)  # gaps, some series sparse
        if i == 5:
            keep[600:1500] = False  # a gap of many hours, across midnight
        score = rng.beta(0.5, 4, minutes)
        score[rng.random(minutes) < 0.05] = np.nan
        if i == 1:
            score = np.minimum(score, 0.3)  # never anomalous
        if i == 2:
            score = np.where(np.arange(minutes) == 1000, 0.97, np.minimum(score, 0.4))  # one anomaly
        if i == 3:
            score[:] = np.nan  # scores never computed
        frames.append(pd.DataFrame({"timestamp": t[keep], "service": f"svc-{i % 5}", "metric": ["cpu", "p95", "rps"][i % 3],
                                    "host": f"h{i}", "anomaly_score": score[keep]}))
    scored = pd.concat(frames, ignore_index=True)
    scored["is_anomaly"] = scored["anomaly_score"] >= 0.5
    return scored.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def check(scored: pd.DataFrame) -> pd.DataFrame:
    out = rollup(scored)
    pd.testing.assert_frame_equal(out, duckdb_rollup(scored), check_exact=True)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rollup_equals_the_duckdb_version(seed):
    out = check(world(seed))
    hours, days = out[out["granularity"] == "hour"], out[out["granularity"] == "day"]
    assert len(days["period_start"].unique()) == 4 and days["points"].sum() == hours["points"].sum()
    single = days[(days["service"] == "svc-2") & (days["metric"] == "rps")]
    assert single["anomalies"].sum() == 1 and single["first_anomaly"].count() == 1
    nan_only = hours[(hours["service"] == "svc-3") & (hours["metric"] == "cpu")]
    assert nan_only["max_score"].isna().any()


def test_categorical_keys_in_another_order_than_their_names():
    scored = world(3)
    names = sorted(scored["service"].unique(), reverse=True)  # categories not in sorted order
    scored["service"] = pd.Categorical(scored["service"], categories=names + ["unused"])
    scored["metric"] = scored["metric"].astype("category")
    out = check(scored)
    assert out["service"].map(type).eq(str).all()


def test_other_timezones_and_units_roll_up_in_utc_hours():
    scored = world(4, series=4)
    zoned = scored["timestamp"].dt.tz_convert("Asia/Kolkata")
    for ts in [zoned, *(scored["timestamp"].astype(f"datetime64[{unit}, UTC]") for unit in ("s", "ms", "us"))]:
        out = check(scored.assign(timestamp=ts))
        assert (out["period_start"].dt.minute == 0).all()
        pd.testing.assert_frame_equal(out, rollup(scored))


def test_naive_timestamps_are_utc():
    scored = world(5, series=4)
    naive = rollup(scored.assign(timestamp=scored["timestamp"].dt.tz_localize(None)))
    pd.testing.assert_frame_equal(naive, rollup(scored))
    oracle = duckdb_rollup(scored.assign(timestamp=scored["timestamp"].dt.tz_localize(None)))
    for col in ("first_anomaly", "last_anomaly"):  # DuckDB gave these in ns for naive input; ours are us throughout
        oracle[col] = oracle[col].astype("datetime64[us, UTC]")
    pd.testing.assert_frame_equal(naive, oracle)


def test_duplicated_and_non_finite_scores():
    scored = world(6, series=4, minutes=600)
    scored = pd.concat([scored, scored.iloc[:50]], ignore_index=True)  # duplicates count twice
    scored.loc[[3, 70, 71], "anomaly_score"] = [np.inf, -np.inf, np.inf]
    scored.loc[scored["anomaly_score"] == -np.inf, "is_anomaly"] = False
    check(scored)


def test_periods_years_apart_use_the_sorted_path():
    scored = world(7, series=6, minutes=200)
    scored.loc[:9, "timestamp"] -= pd.Timedelta(days=365 * 40)  # far apart: too many hour bins for a table
    out = check(scored)
    assert out["period_start"].min().year == 1986


def test_a_missing_anomaly_flag_is_no_anomaly():
    scored = world(8, series=3, minutes=300)
    scored["is_anomaly"] = scored["is_anomaly"].astype("boolean")
    scored.loc[scored.index[scored["is_anomaly"]][:3], "is_anomaly"] = pd.NA
    out = check(scored)
    assert out.loc[out["granularity"] == "day", "anomalies"].sum() == scored["is_anomaly"].sum()


def test_empty_input_gives_the_columns():
    out = rollup(world(9, series=1, minutes=10).iloc[:0])
    assert list(out.columns) == ROLLUP_COLUMNS and out.empty


@pytest.mark.parametrize("column", ["timestamp", "service", "metric"])
def test_rows_without_a_key_are_refused(column):
    scored = world(10, series=3, minutes=60)
    scored[column] = scored[column].astype(object)
    scored.loc[4, column] = None
    with pytest.raises(ValueError, match="no"):
        rollup(scored.assign(timestamp=pd.to_datetime(scored["timestamp"], utc=True)))


def test_text_timestamps_are_refused():
    scored = world(11, series=2, minutes=30)
    with pytest.raises(TypeError, match="datetime"):
        rollup(scored.assign(timestamp=scored["timestamp"].astype(str)))


def test_missing_columns_are_refused():
    with pytest.raises(KeyError):
        rollup(world(12, series=2, minutes=30).drop(columns="is_anomaly"))


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_rollups_of_service_shards_joined_equal_one_rollup(shards):
    from ops_pipelines.lib.aiops.rollups import joined_rollups
    from ops_pipelines.lib.aiops.shards import split_rows

    scored = world(5, series=15)
    parts = [rollup(part) for part in split_rows(scored, shards)]
    assert sum(len(p) > 0 for p in parts) >= 2  # the split really spreads the series
    pd.testing.assert_frame_equal(joined_rollups(parts), rollup(scored), check_exact=True)
    assert joined_rollups([rollup(scored.iloc[:0])] * shards).columns.tolist() == ROLLUP_COLUMNS
