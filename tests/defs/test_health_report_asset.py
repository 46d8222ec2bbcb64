"""ops_health_report as Dagster runs it: files in the reports folder, Markdown and headline numbers as metadata."""

import dagster as dg
import pandas as pd

from ops_pipelines.defs.platform.health import HealthReportConfig, ops_health_report
from ops_pipelines.io.parquet import StoredPartitions, partition_path, write_parquet_atomic
from tests.lib.platform.test_health_report import DAY, make_inputs


def upstream():
    inputs = make_inputs()
    return {"incidents": inputs.incidents, "alert_noise_report": pd.DataFrame([inputs.noise]),
                "anomaly_rollups": inputs.anomaly_rollups, "llm_quality_daily": inputs.llm_quality,
                "prompt_version_comparison": inputs.prompt_comparison, "prompt_promotion": inputs.prompt_promotion,
                "drift_report": pd.DataFrame(), "anomaly_annotations": pd.DataFrame([{
                    "start": pd.Timestamp(f"{DAY}T18:55Z"), "end": pd.Timestamp(f"{DAY}T19:40Z"), "kind": "traffic_event",
                    "services": ["frontend", "cart"], "reason": "traffic rose on 2 services at once, without errors"}])}


def stored(tmp_path) -> StoredPartitions:
    return StoredPartitions(base_dir=str(tmp_path / "storage"))


def test_the_asset_writes_both_files_and_reports_the_markdown_and_headline(tmp_path):
    context = dg.build_asset_context(partition_key=DAY)
    result = ops_health_report(context, config=HealthReportConfig(reports_dir=str(tmp_path)), **upstream(),
                               stored_partitions=stored(tmp_path))
    meta = result.metadata
    html_path, md_path = tmp_path / f"ops_health_{DAY}.html", tmp_path / f"ops_health_{DAY}.md"
    assert meta["html_path"].value == str(html_path) and html_path.read_text().count("<img ") == 4
    assert meta["report"].value == md_path.read_text()
    assert "Roll back the cart deploy" in meta["report"].value
    assert "18:55 traffic event on frontend, cart: traffic rose" in meta["report"].value
    assert meta["incidents"] == 2 and meta["anomalous_points"] == 181 and meta["prompt_promotions"] == 1


def test_the_report_is_in_the_platform_group_downstream_of_every_domain():
    from ops_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("ops_health_report"))
    assert node.group_name == "platform" and node.partitions_def is not None
    parents = {k.to_user_string() for k in node.parent_keys}
    assert {"incidents", "alert_noise_report", "llm_quality_daily", "prompt_promotion", "drift_report"} <= parents
    assert "ops_health_report" in {k.to_user_string() for k in defs.resolve_job_def("daily_job").asset_layer.executable_asset_keys}


def test_empty_upstream_tables_still_give_a_report(tmp_path):
    empty = {k: pd.DataFrame() for k in upstream()}
    context = dg.build_asset_context(partition_key=DAY)
    result = ops_health_report(context, config=HealthReportConfig(reports_dir=str(tmp_path)), **empty,
                               stored_partitions=stored(tmp_path))
    assert "Section unavailable" in result.metadata["report"].value  # incidents without columns say so
    assert result.metadata["incidents"] == 0


def test_the_report_shows_each_models_drift_and_its_latest_retraining_decision(tmp_path):
    drift = pd.DataFrame([{"model": "ctr_logreg", "champion_version": 1.0, "dataset_drift": True, "drift_share": 0.29,
                           "drifted_columns": '["price", "category"]', "retrain_reason": "drift", "performance": 0.61}])
    config = stored(tmp_path)
    # A retraining decided before the day (kept) and one after it (not yet known on the day).
    for as_of, version, decision in (("2026-03-01", 2, "promoted"), ("2099-01-01", 3, "rejected")):
        write_parquet_atomic(pd.DataFrame([{"model": "ctr_logreg", "as_of": as_of, "candidate_version": version,
                                            "decision": decision, "reason": f"reason {version}"}]),
                             partition_path(tmp_path / "storage", "model_evaluation", f"{as_of}|ctr_logreg"))
    context = dg.build_asset_context(partition_key=DAY)
    result = ops_health_report(context, config=HealthReportConfig(reports_dir=str(tmp_path)),
                               **{**upstream(), "drift_report": drift}, stored_partitions=config)
    report = result.metadata["report"].value
    assert "ctr_logreg" in report and "price, category" in report
    due = (pd.Timestamp(DAY) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"due by {due} 06:00 UTC" in report and "freshness_check" in report
    assert "v2 promoted" in report and "v3" not in report
