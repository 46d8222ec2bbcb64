"""The AIOps assets end to end over three days: an incident across midnight stays one incident."""

import json

import dagster as dg
import numpy as np
import pandas as pd

from ops_pipelines.defs.aiops.anomalies import metric_anomalies
from ops_pipelines.defs.aiops.incidents import (
    LOG_EVENT_INPUTS,
    alert_noise_report,
    incidents,
    platform_changes,
)
from ops_pipelines.defs.aiops.ingestion import change_events, service_logs, telemetry_metrics
from ops_pipelines.defs.aiops.logs import log_anomalies, log_templates
from ops_pipelines.defs.aiops.rollups import anomaly_rollups
from ops_pipelines.io.parquet import ParquetIOManager, ParquetLayout
from ops_pipelines.lib.aiops.incidents import log_events
from ops_pipelines.resources.aiops_config import AIOpsConfig
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig
from ops_pipelines.resources.state_store import StateStore
from tests.conftest import LLM_KPI_CHAIN

DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]


def write_world(landing):
    rng = np.random.default_rng(3)
    start, end = pd.Timestamp("2026-03-03T23:30Z"), pd.Timestamp("2026-03-04T00:40Z")
    for day in DAYS:
        t = pd.date_range(day, periods=1440, freq="min", tz="UTC")
        fault = np.asarray((t >= start) & (t < end))
        frames = []
        for service, lag in (("db", 0), ("api", 2)):
            base = 100 + 10 * np.sin(np.asarray(t.hour) / 24 * 2 * np.pi) + rng.normal(0, 1, len(t))
            shifted = np.asarray((t >= start + pd.Timedelta(minutes=lag)) & (t < end))
            values = np.where(shifted, base * 3, base)
            frames.append(pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": service,
                                        "metric": "latency_p95_ms", "value": values, "host": ""}))
        assert fault.any() or day == DAYS[0]
        landing.write("metrics", "m.csv", pd.concat(frames).to_csv(index=False), day=day)
    landing.write("changes", "cd.jsonl", '{"timestamp": "2026-03-04T09:00:00Z", "service": "api", "kind": "Deployment", '
                                         '"detail": "version 1.2.3"}\n', day=DAYS[2])
    landing.write("logs", "l.jsonl", '{"timestamp": "2026-03-04T09:30:00Z", "service": "db", "host": "db-1", "level": "INFO", '
                                     '"message": "configuration changed: max_connections 100 -> 200"}\n', day=DAYS[2])


def test_incident_across_midnight_is_reported_by_both_days_with_one_id(landing, tmp_path):
    write_world(landing)
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"services": ["api", "db"], "calls": [["api", "db"]], "kinds": {"db": "database"}}))
    resources = {
        "landing_zone": LandingZone(root=str(landing.root)),
        "io_manager": ParquetIOManager(base_dir=str(tmp_path / "storage")),
        "state_store": StateStore(root=str(tmp_path / "state")),
        "llmops_config": LLMOpsConfig(),
        "llm_judge": LLMJudge(),
        "aiops_config": AIOpsConfig(topology_path=str(topology)),
    }
    assets = [telemetry_metrics, metric_anomalies, anomaly_rollups, incidents, alert_noise_report, change_events,
              platform_changes, service_logs, log_templates, log_anomalies, *LLM_KPI_CHAIN]  # no traces: empty partitions
    results = [dg.materialize(assets, partition_key=day, resources=resources) for day in DAYS]
    assert all(r.success for r in results)
    found = {d: pd.read_parquet(tmp_path / "storage" / "incidents" / f"{d}.parquet") for d in DAYS}
    assert found[DAYS[0]].empty
    assert len(found[DAYS[1]]) == 1 and len(found[DAYS[2]]) == 1
    before, after = found[DAYS[1]].iloc[0], found[DAYS[2]].iloc[0]
    assert before["incident_id"] == after["incident_id"] and before["root_cause"] == "db"
    assert after["end"] > pd.Timestamp("2026-03-04T00:00Z") > before["end"]
    meta = results[2].asset_materializations_for_node("alert_noise_report")[0].metadata
    assert meta["incidents"].value == 1 and meta["anomalous_points"].value > meta["alerts"].value >= 1
    assert 0 < meta["compression"].value < 1
    table = results[1].asset_materializations_for_node("correlate_incidents")[0].metadata["incidents_table"].value
    assert "**db**" in table and "api" in table
    changes = pd.read_parquet(tmp_path / "storage" / "platform_changes" / f"{DAYS[2]}.parquet")
    assert sorted(zip(changes["service"], changes["kind"], changes["source"])) == [("api", "deploy", "changes"), ("db", "config", "logs")]
    assert (tmp_path / "storage" / "anomaly_annotations" / f"{DAYS[2]}.parquet").exists()
    assert sorted(p.name for p in (tmp_path / "state" / "incidents").iterdir()) == [f"{d}.zip" for d in DAYS]

    # Correlation reads only LOG_EVENT_INPUTS of log_anomalies; the events are those of every column.
    stored = ParquetLayout(str(tmp_path / "storage")).read(["log_anomalies"], DAYS[1:])
    assert {"message", "reason"} <= set(stored.columns) and len(stored)
    flagged = stored.assign(is_anomaly=True)  # this small world's lines are quiet: make them events
    assert len(log_events(flagged)) and log_events(flagged[LOG_EVENT_INPUTS]).equals(log_events(flagged))
    subset = ParquetLayout(str(tmp_path / "storage")).read(["log_anomalies"], DAYS[1:], [*LOG_EVENT_INPUTS, "not_stored"])
    pd.testing.assert_frame_equal(subset, stored[LOG_EVENT_INPUTS])
