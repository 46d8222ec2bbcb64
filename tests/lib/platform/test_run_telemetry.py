"""Our runs as telemetry: shape, bad input, and that a slow run or a failing check is caught."""

import time

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.lib.aiops.incidents import (
    build_incidents,
    load_runbooks,
    metric_events,
)
from ops_pipelines.lib.aiops.topology import Topology
from ops_pipelines.lib.platform.run_telemetry import (
    COLUMNS,
    MIN_BASELINE,
    SERVICE,
    PipelineRun,
    StepRun,
    run_series,
    usable_runs,
)
from ops_pipelines.settings import ASSETS_DIR

STEPS = [f"asset_{i:02d}" for i in range(20)]
USUAL = np.random.default_rng(1).uniform(3, 30, len(STEPS))  # seconds per step in a normal run
T0 = pd.Timestamp("2026-03-01T02:00:00Z").timestamp()


def nightly(i: int, slow: float = 1.0, failing: str | None = None, job: str = "daily_job") -> PipelineRun:
    """The nightly run of day i: 20 steps with 10% noise, each writing rows and with one check."""
    rng = np.random.default_rng(100 + i)
    start = T0 + i * 86_400 + rng.uniform(0, 20)
    t, steps, rows, checks = start, [], [], []
    for key, usual in zip(STEPS, USUAL):
        d = usual * rng.lognormal(0, 0.1) * slow
        steps.append(StepRun(key, t, t + d))
        t += d + 0.5
        rows.append((key, t, float(1000 + rng.integers(0, 50))))
        checks.append((f"{key}:valid", t, key != failing))
    return PipelineRun(f"run-{job}-{i}", job, "SUCCESS", start, t + 1, tuple(steps), tuple(rows), tuple(checks))


def day_by_day(runs: list[PipelineRun]) -> pd.DataFrame:
    """What the asset produces night after night: each day's runs with the previous week as history."""
    return pd.concat([run_series([r], runs[max(0, i - 7):i]) for i, r in enumerate(runs)], ignore_index=True)


def flagged_days(scored: pd.DataFrame, metric: str) -> set[int]:
    hits = scored[scored["is_anomaly"] & (scored["metric"] == metric)]
    return set(((hits["timestamp"] - pd.Timestamp(T0, unit="s", tz="UTC")) // pd.Timedelta(days=1)).astype(int))


def test_rows_are_shaped_like_telemetry():
    out = run_series([nightly(i) for i in range(4)])
    assert list(out.columns) == COLUMNS
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (out["timestamp"] == out["timestamp"].dt.floor("min")).all()
    assert set(out["service"]) == {SERVICE}
    assert {"run_duration_s", "run_failed", "step_duration_s", "rows_written", "check_failed", "step_slowdown"} <= set(out["metric"])
    assert not out.duplicated(["timestamp", "service", "metric", "host"]).any()
    assert np.isfinite(out["value"]).all()


def test_a_five_times_slower_run_becomes_a_pipeline_incident():
    runs = [nightly(i, slow=5.0 if i == 14 else 1.0) for i in range(16)]
    scored, _ = score_metrics(day_by_day(runs))
    assert 14 in flagged_days(scored, "step_slowdown") and 14 in flagged_days(scored, "run_elapsed_ratio")
    found = build_incidents(metric_events(scored), Topology.load(ASSETS_DIR / "aiops" / "topology.json"),
                            load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json"))
    assert len(found) == 1  # the slow night, and no other night
    incident = found.iloc[0]
    slow_start = pd.Timestamp(runs[14].start, unit="s", tz="UTC")
    assert slow_start.floor("min") <= incident["start"] <= pd.Timestamp(runs[14].end, unit="s", tz="UTC")
    assert incident["root_cause"] == SERVICE and incident["runbook"] == "pipeline_slowdown"


def test_the_same_history_without_the_slow_run_gives_no_incident():
    scored, _ = score_metrics(day_by_day([nightly(i) for i in range(16)]))
    found = build_incidents(metric_events(scored), Topology.load(ASSETS_DIR / "aiops" / "topology.json"),
                            load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json"))
    assert found.empty


def test_a_newly_failing_check_is_flagged_on_the_day_it_starts_failing():
    runs = [nightly(i, failing="asset_05" if i >= 13 else None) for i in range(14)]
    scored, _ = score_metrics(day_by_day(runs))
    check = scored[(scored["metric"] == "check_failed") & (scored["host"] == "asset_05:valid")]
    assert check.loc[check["is_anomaly"], "timestamp"].dt.day.tolist() == [14]  # day index 13 is March 14
    assert not scored.loc[(scored["metric"] == "check_failed") & (scored["host"] != "asset_05:valid"), "is_anomaly"].any()


def test_a_failed_run_counts_and_its_failed_step_is_not_a_baseline():
    history = [nightly(i) for i in range(5)]
    bad = nightly(5)
    died = StepRun(bad.steps[0].key, bad.steps[0].start, bad.steps[0].start + 0.1, succeeded=False)
    failed = PipelineRun("failed", "daily_job", "FAILURE", bad.start, bad.start + 1, (died,))
    out = run_series([failed], history)
    assert out.loc[out["metric"] == "run_failed", "value"].tolist() == [1.0]
    later = run_series([nightly(6)], [*history, failed])
    again = run_series([nightly(6)], history)
    pd.testing.assert_frame_equal(later, again)  # the early death did not lower the step's usual duration


def test_empty_input_gives_empty_frame_with_columns():
    out = run_series([])
    assert list(out.columns) == COLUMNS and out.empty
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_unfinished_bad_and_duplicated_runs_are_skipped_and_counted():
    good = nightly(0)
    runs = [
        good, good,  # duplicated
        PipelineRun("running", "daily_job", "STARTED", T0, None),
        PipelineRun("canceled", "daily_job", "CANCELED", T0, T0 + 5),
        PipelineRun("nan", "daily_job", "SUCCESS", float("nan"), T0),
        PipelineRun("inf", "daily_job", "SUCCESS", T0, float("inf")),
        PipelineRun("backwards", "daily_job", "SUCCESS", T0 + 10, T0),
        PipelineRun("text", "daily_job", "SUCCESS", "2026-03-01", T0),
    ]
    used, skipped = usable_runs(runs)
    assert [r.run_id for r in used] == [good.run_id]
    assert skipped == {"not_finished": 2, "bad_times": 4, "duplicate": 1}
    pd.testing.assert_frame_equal(run_series(runs), run_series([good]))


def test_non_finite_and_malformed_steps_rows_and_checks_are_dropped():
    run = PipelineRun(
        "r", "job", "SUCCESS", T0, T0 + 60,
        steps=(StepRun("ok", T0, T0 + 5), StepRun("nan", float("nan"), T0 + 5), StepRun("none", None, None),
               StepRun("backwards", T0 + 9, T0 + 1)),
        row_counts=(("a", T0 + 5, 10.0), ("b", T0 + 5, float("nan")), ("c", T0 + 5, -3.0), ("d", float("inf"), 1.0)),
        checks=(("a:c", T0 + 5, True), ("b:c", None, False)),
    )
    out = run_series([run])
    assert set(out.loc[out["metric"] == "step_duration_s", "host"]) == {"ok"}
    assert set(out.loc[out["metric"] == "rows_written", "host"]) == {"a"}
    assert set(out.loc[out["metric"] == "check_failed", "host"]) == {"a:c"}
    assert np.isfinite(out["value"]).all()


def test_input_order_does_not_change_the_output():
    runs = [nightly(i) for i in range(6)]
    forward = run_series(runs[3:], runs[:3])
    backward = run_series(runs[3:][::-1], runs[:3][::-1])
    pd.testing.assert_frame_equal(forward, backward)
    shuffled_steps = PipelineRun(**{**runs[5].__dict__, "steps": runs[5].steps[::-1]})
    pd.testing.assert_frame_equal(run_series([shuffled_steps], runs[:5]), run_series([runs[5]], runs[:5]))


def test_points_in_one_minute_are_combined_into_one_row():
    a = PipelineRun("a", "job", "SUCCESS", T0, T0 + 10, (StepRun("s", T0, T0 + 4),), (("s", T0 + 4, 10.0),), (("s:c", T0 + 4, True),))
    b = PipelineRun("b", "job", "FAILURE", T0 + 20, T0 + 30, (StepRun("s", T0 + 20, T0 + 28),), (("s", T0 + 28, 5.0),), (("s:c", T0 + 28, False),))
    out = run_series([a, b]).set_index(["metric", "host"])["value"]
    assert out[("run_duration_s", "job")] == 10.0
    assert out[("run_failed", "job")] == 1.0 and out[("check_failed", "s:c")] == 1.0
    assert out[("rows_written", "s")] == 15.0
    assert out[("step_duration_s", "s")] == 6.0


def test_ratios_need_a_baseline_of_earlier_runs():
    runs = [nightly(i) for i in range(MIN_BASELINE + 1)]
    assert "step_slowdown" not in set(run_series(runs[MIN_BASELINE - 1:MIN_BASELINE], runs[:MIN_BASELINE - 1])["metric"])
    with_baseline = run_series(runs[MIN_BASELINE:], runs[:MIN_BASELINE])
    ratios = with_baseline.loc[with_baseline["metric"] == "step_slowdown", "value"]
    assert len(ratios) and ratios.between(0.5, 2.0).all()  # a normal run is about as fast as usual


def test_other_jobs_do_not_feed_the_baseline():
    runs = [nightly(i) for i in range(5)]
    other = [nightly(i, slow=5.0, job="other_job") for i in range(5)]
    pd.testing.assert_frame_equal(run_series([runs[4]], runs[:4] + other), run_series([runs[4]], runs[:4]))


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata"])
def test_timestamps_are_utc_whatever_the_local_timezone(monkeypatch, tz):
    late = PipelineRun("r", "job", "SUCCESS", T0 + 22 * 3600 - 30, T0 + 22 * 3600 + 90)  # 23:59:30 UTC
    expected = run_series([late])
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        out = run_series([late])
    finally:
        monkeypatch.undo()
        time.tzset()
    pd.testing.assert_frame_equal(out, expected)
    assert out["timestamp"].iloc[0] == pd.Timestamp("2026-03-01T23:59:00Z")


def test_same_input_same_output():
    runs = [nightly(i) for i in range(8)]
    pd.testing.assert_frame_equal(run_series(runs[4:], runs[:4]), run_series(runs[4:], runs[:4]))
