"""metric_anomalies as an asset: state carried across partitions gives the one-pass result."""

import dagster as dg
import numpy as np
import pandas as pd

from ops_pipelines.defs.aiops.anomalies import metric_anomalies
from ops_pipelines.defs.aiops.ingestion import telemetry_metrics
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig
from ops_pipelines.resources.state_store import StateStore
from tests.conftest import LLM_KPI_CHAIN

DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]


def test_partitions_in_order_equal_one_pass_over_the_range(landing, tmp_path):
    rng = np.random.default_rng(0)
    for day in DAYS:
        t = pd.date_range(day, periods=1440, freq="min", tz="UTC")
        values = 100 + 20 * np.sin(np.asarray(t.hour) / 24 * 2 * np.pi) + rng.normal(0, 2, len(t))
        if day == DAYS[-1]:
            values[700:720] += 80  # an incident on the last day
        frame = pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": "api", "metric": "rps", "value": values, "host": ""})
        landing.write("metrics", "m.csv", frame.to_csv(index=False), day=day)
    resources = {
        "landing_zone": LandingZone(root=str(landing.root)),
        "io_manager": ParquetIOManager(base_dir=str(tmp_path / "storage")),
        "state_store": StateStore(root=str(tmp_path / "state")),
        "llmops_config": LLMOpsConfig(),
        "llm_judge": LLMJudge(),
    }
    results = [dg.materialize([telemetry_metrics, metric_anomalies, *LLM_KPI_CHAIN], partition_key=day, resources=resources) for day in DAYS]
    assert all(r.success for r in results)
    daily = pd.concat([pd.read_parquet(tmp_path / "storage" / "metric_anomalies" / f"{d}.parquet") for d in DAYS], ignore_index=True)
    rows = pd.concat([pd.read_parquet(tmp_path / "storage" / "telemetry_metrics" / f"{d}.parquet") for d in DAYS], ignore_index=True)
    whole, _ = score_metrics(rows)
    assert np.array_equal(daily["anomaly_score"].to_numpy(), whole["anomaly_score"].to_numpy(), equal_nan=True)
    assert daily.loc[daily["timestamp"].dt.day == 4, "is_anomaly"].sum() >= 5
    meta = results[-1].asset_materializations_for_node("metric_anomalies")[0].metadata
    assert meta["state_from"].value == DAYS[1] and meta["anomalous_points"].value >= 5
