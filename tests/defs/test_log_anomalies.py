"""log_templates and log_anomalies as assets over two days of the sample world."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from ops_pipelines.defs.aiops.ingestion import service_logs
from ops_pipelines.defs.aiops.logs import log_anomalies, log_templates
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.lib.sim import simulate_world
from ops_pipelines.lib.sim.config import default_config_path
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.state_store import StateStore

DAYS = ["2026-03-02", "2026-03-03"]
SEED = 58  # its 2-day world has an error burst with a never-seen template late on day 2


def test_two_days_of_the_sample_world(landing, tmp_path):
    config = json.loads(default_config_path().read_text())
    config["logs"]["lines_per_weekday"] = 9000  # a quarter of the default volume keeps the test short
    (tmp_path / "world.json").write_text(json.dumps(config))
    simulate_world(landing.root, start=dt.date.fromisoformat(DAYS[0]), days=len(DAYS), seed=SEED,
                   config_path=tmp_path / "world.json")
    storage, state = tmp_path / "storage", tmp_path / "state"
    resources = {
        "landing_zone": LandingZone(root=str(landing.root)),
        "io_manager": ParquetIOManager(base_dir=str(storage)),
        "state_store": StateStore(root=str(state)),
    }
    results = [dg.materialize([service_logs, log_templates, log_anomalies], partition_key=d, resources=resources)
               for d in DAYS]
    assert all(r.success for r in results)
    anomalies = {d: pd.read_parquet(storage / "log_anomalies" / f"{d}.parquet") for d in DAYS}
    templates = {d: pd.read_parquet(storage / "log_templates" / f"{d}.parquet") for d in DAYS}

    # Every injected log symptom shows up as alerting log lines of its service in its window.
    incidents = json.loads((landing.root / "ground_truth" / "incidents.json").read_text())
    symptoms = [s for i in incidents for s in i["symptoms"] if s["metric"] == "logs"]
    assert symptoms and all(s["start"][:10] in DAYS for s in symptoms)
    lines = pd.concat(anomalies.values(), ignore_index=True)
    evidence = lines[lines["is_anomaly"] | lines["in_burst"]]
    for s in symptoms:
        lo, hi = pd.Timestamp(s["start"]) - pd.Timedelta(minutes=5), pd.Timestamp(s["end"])
        hits = evidence[(evidence["service"] == s["service"]) & evidence["timestamp"].between(lo, hi)]
        assert len(hits), f"no log anomaly for {s['service']} in [{lo}, {hi}]"
    # The incident's never-seen ERROR statement alerts as a burst at its root, inside the incident.
    alerts = lines[lines["is_anomaly"]]
    assert (alerts["kind"] == "burst").all() and alerts["reason"].str.startswith("burst").all()
    for incident in incidents:
        for text in incident["novel_log_templates"]:
            new = alerts[alerts["template"].str.startswith(text.split("{")[0])]
            assert len(new) and set(new["service"]) == {incident["root_cause_service"]}
            assert new["timestamp"].between(pd.Timestamp(incident["start"]), pd.Timestamp(incident["end"])).all()
    # Day 1 is the warm-up: its rates are learned, no burst alerts.
    assert not anomalies[DAYS[0]]["is_anomaly"].any()

    # One row per ingested line, with the template id log_templates mined for it.
    day2, table2 = anomalies[DAYS[1]], templates[DAYS[1]].set_index("template_id")
    assert len(day2) == table2["count"].sum()
    assert day2.groupby("template_id").size().equals(table2["count"].sort_index().rename(None))
    assert (day2["template"] == table2["template"].reindex(day2["template_id"]).to_numpy()).all()
    assert set(alerts["level"]) <= {"WARN", "ERROR"}  # the sample world writes no CRITICAL lines

    meta = results[1].asset_materializations_for_node("log_anomalies")[0].metadata
    day2_alerts = day2[day2["is_anomaly"]]
    assert meta["state_from"].value == DAYS[0]
    assert meta["alerts"].value == len(day2_alerts) == meta["burst_alerts"].value > 0
    assert meta["lines_in_bursts"].value == day2["in_burst"].sum() > len(day2_alerts)
    table_rows = [line for line in meta["top_alerts"].value.splitlines() if line.startswith("| 2026-")]
    assert len(table_rows) == min(10, len(day2_alerts))
    assert any(line.split(" | ")[1] in {s["service"] for s in symptoms} for line in table_rows)
    tmeta = results[1].asset_materializations_for_node("log_templates")[0].metadata
    assert tmeta["templates_seen"].value == len(templates[DAYS[1]]) and tmeta["new_templates"].value >= 1
    assert tmeta["state_from"].value == DAYS[0]
    first = results[0].asset_materializations_for_node("log_templates")[0].metadata
    assert first["state_from"].value == "cold start" and first["new_templates"].value == len(templates[DAYS[0]])
    assert {p.name for p in (state / "log_templates").iterdir()} == {f"{d}.zip" for d in DAYS}
