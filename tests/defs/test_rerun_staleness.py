"""Re-running an earlier day (issue 12, defect 6): the later days it made stale are named, and a re-run drift
report says it compared against a champion trained on that day or later, and asks for no retraining."""

import dagster as dg
import numpy as np
import pandas as pd

from ops_pipelines.defs.aiops.anomalies import metric_anomalies
from ops_pipelines.defs.aiops.ingestion import telemetry_metrics
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig
from ops_pipelines.resources.state_store import STATE_CHECK, StateStore
from tests.conftest import LLM_KPI_CHAIN
from tests.defs.test_mlops_assets import DAYS, MODEL, drift_day, retrain, sensor_requests, world  # noqa: F401

METRIC_DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]


def write_metrics(landing, day: str, spike: float = 0.0) -> None:
    rng = np.random.default_rng(int(day[-2:]))
    t = pd.date_range(day, periods=1440, freq="min", tz="UTC")
    values = 100 + 20 * np.sin(np.asarray(t.hour) / 24 * 2 * np.pi) + rng.normal(0, 2, len(t))
    values[900:960] += spike
    frame = pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": "api", "metric": "rps", "value": values,
                          "host": ""})
    landing.write("metrics", "m.csv", frame.to_csv(index=False), day=day)


def state_check(result) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == STATE_CHECK]
    return evaluation


def test_rerunning_day_one_on_corrected_input_names_days_two_and_three_as_stale(landing, tmp_path):
    for day in METRIC_DAYS:
        write_metrics(landing, day)
    resources = {
        "landing_zone": LandingZone(root=str(landing.root)), "io_manager": ParquetIOManager(base_dir=str(tmp_path / "storage")),
        "state_store": StateStore(root=str(tmp_path / "state")), "llmops_config": LLMOpsConfig(), "llm_judge": LLMJudge(),
    }

    def run(day: str):
        result = dg.materialize([telemetry_metrics, metric_anomalies, *LLM_KPI_CHAIN], partition_key=day, resources=resources)
        assert result.success
        return result

    nightly = [run(day) for day in METRIC_DAYS]
    assert all(state_check(r).passed for r in nightly)

    # The same input again: the same state bytes, so nothing after it is stale.
    same = state_check(run(METRIC_DAYS[0]))
    assert same.passed and same.metadata["stale_later_days"].value == 0

    # A corrected file for day 1: its state changes, and days 2 and 3 were computed from the old one.
    write_metrics(landing, METRIC_DAYS[0], spike=60.0)
    rerun = state_check(run(METRIC_DAYS[0]))
    assert not rerun.passed and rerun.severity == dg.AssetCheckSeverity.WARN
    assert rerun.metadata["stale_later_days"].value == 2
    assert rerun.metadata["rerun"].value == "ops-pipelines run --start 2026-03-03 --end 2026-03-04"
    assert "2026-03-03: it continued from metric_anomalies 2026-03-02, which was recomputed since" in rerun.metadata["later_days"].value

    # Day 3 run on its own now continues from a stale day 2: its check says so.
    alone = state_check(run(METRIC_DAYS[2]))
    assert not alone.passed and "it continued from metric_anomalies 2026-03-03, which is stale" in alone.metadata["continued_from_stale"].value
    # Re-running days 2 and 3 in order brings everything up to date.
    assert state_check(run(METRIC_DAYS[1])).metadata["stale_later_days"].value == 1
    assert state_check(run(METRIC_DAYS[2])).passed


def test_a_rerun_drift_report_names_a_champion_trained_after_the_day_and_asks_for_no_retraining(world):  # noqa: F811
    with dg.instance_for_test() as instance:
        drift_day(world, DAYS[0], instance)
        drift_day(world, DAYS[1], instance)
        requests, cursor = sensor_requests(instance)
        assert [r.run_key for r in requests] == [f"{MODEL}:bootstrap:{DAYS[1]}"]
        assert retrain(requests[0], instance, world).success  # v1: trained on days 1-2, as of day 2

        # Day 3 as the nightly run sees it: a champion trained before the day.
        meta = drift_day(world, DAYS[2], instance).asset_materializations_for_node("drift_report")[0].metadata
        assert meta[f"{MODEL}/champion_version"].value == 1
        assert meta[f"{MODEL}/champion_trained_through"].value == DAYS[1]
        assert meta[f"{MODEL}/champion_after_day"].value is False
        _, cursor = sensor_requests(instance, cursor)

        # Day 1 re-run after that: the champion saw day 1's data (and day 2's).
        result = drift_day(world, DAYS[0], instance)
        meta = result.asset_materializations_for_node("drift_report")[0].metadata
        assert meta[f"{MODEL}/champion_version"].value == 1
        assert meta[f"{MODEL}/champion_trained_through"].value == DAYS[1]
        assert meta[f"{MODEL}/champion_after_day"].value is True
        assert f"{MODEL}/retrain_key" not in meta  # no retraining requested (tidy metadata leaves empty values out)
        assert meta[f"{MODEL}/note"].value == (f"re-run: compared against champion v1, trained on data through {DAYS[1]} "
                                               "(not before this day); no retraining requested")
        stored = pd.read_parquet(world["storage"] / "drift_report" / f"{DAYS[0]}.parquet").iloc[0]
        assert bool(stored["champion_after_day"]) and stored["champion_trained_through"] == DAYS[1]
        again, _ = sensor_requests(instance, cursor)
        assert again == []  # no retraining as of day 1 that could replace the newer champion
        # Its drift streak changed (day 1 first had no champion): days 2 and 3 are named stale.
        check = state_check(result)
        assert not check.passed and check.metadata["stale_later_days"].value == 2
