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

    # Every injected log symptom shows up as a log anomaly of its service in its window.
    incidents = json.loads((landing.root / "ground_truth" / "incidents.json").read_text())
    symptoms = [s for i in incidents for s in i["symptoms"] if s["metric"] == "logs"]
    assert symptoms and all(s["start"][:10] in DAYS for s in symptoms)
    flagged = pd.concat(anomalies.values(), ignore_index=True).query("is_anomaly")
    for s in symptoms:
        lo, hi = pd.Timestamp(s["start"]) - pd.Timedelta(minutes=5), pd.Timestamp(s["end"])
        hits = flagged[(flagged["service"] == s["service"]) & flagged["timestamp"].between(lo, hi)]
        assert len(hits), f"no log anomaly for {s['service']} in [{lo}, {hi}]"
    # The incident's never-seen statement is a new template at its root, inside the incident.
    for incident in incidents:
        for text in incident["novel_log_templates"]:
            new = flagged[(flagged["kind"] == "new_template") & flagged["template"].str.startswith(text.split("{")[0])]
            assert len(new) and set(new["service"]) == {incident["root_cause_service"]}
            assert new["timestamp"].between(pd.Timestamp(incident["start"]), pd.Timestamp(incident["end"])).all()
    # Day 1 is the warm-up: its history is learned, nothing is flagged.
    assert not anomalies[DAYS[0]]["is_anomaly"].any()

    # Both assets mined the same ids: the anomaly rows agree with the day's template table.
    day2 = anomalies[DAYS[1]].merge(templates[DAYS[1]], on="template_id", suffixes=("", "_t"), how="left")
    assert day2["template_t"].notna().all() and (day2["template"] == day2["template_t"]).all()
    assert day2.groupby("template_id")["count"].sum().equals(templates[DAYS[1]].set_index("template_id")["count"].sort_index())
    assert set(templates[DAYS[1]].loc[templates[DAYS[1]]["is_new"], "template_id"]) >= set(
        flagged.loc[flagged["kind"] == "new_template", "template_id"])

    meta = results[1].asset_materializations_for_node("log_anomalies")[0].metadata
    day2_flagged = anomalies[DAYS[1]].query("is_anomaly")
    assert meta["state_from"].value == DAYS[0]
    assert meta["anomalous_minutes"].value == day2_flagged["timestamp"].nunique() > 0
    assert meta["bursts"].value == (day2_flagged["kind"] == "burst").sum() > 0
    assert meta["new_templates"].value == day2_flagged.loc[day2_flagged["kind"] == "new_template", "template_id"].nunique() > 0
    table_rows = [line for line in meta["top_anomalies"].value.splitlines() if line.startswith("| 2026-")]
    assert len(table_rows) == min(10, len(day2_flagged))
    assert any(line.split(" | ")[1] in {s["service"] for s in symptoms} for line in table_rows)
    tmeta = results[1].asset_materializations_for_node("log_templates")[0].metadata
    assert tmeta["templates_seen"].value == len(templates[DAYS[1]]) and tmeta["new_templates"].value >= 1
    assert tmeta["state_from"].value == DAYS[0]
    first = results[0].asset_materializations_for_node("log_templates")[0].metadata
    assert first["state_from"].value == "cold start" and first["new_templates"].value == len(templates[DAYS[0]])
    assert {p.name for p in (state / "log_templates").iterdir()} == {f"{d}.zip" for d in DAYS}
