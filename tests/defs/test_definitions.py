"""The code location loads, has the expected graph, and stays light to import."""

import subprocess
import sys

from ops_pipelines.definitions import defs
from ops_pipelines.factories.ingestion import INGESTION_ASSETS

HEAVY = ("evidently", "mlflow", "great_expectations", "sklearn", "pandas", "pyarrow")


def test_every_ingestion_asset_and_its_quarantine_are_in_the_graph():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for name in INGESTION_ASSETS.values():
        assert {name, f"{name}_quarantine"} <= keys


def test_groups_follow_the_domains():
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["telemetry_metrics"] == groups["service_logs"] == "aiops"
    assert groups["llm_traces"] == "llmops" and groups["model_events"] == "mlops"


def test_ingestion_checks_exist_and_the_share_check_blocks():
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    for name in INGESTION_ASSETS.values():
        assert {(name, c) for c in ("rows_accounted_for", "quarantine_share_below_threshold", "all_files_readable")} <= checks
    ingest = defs.resolve_assets_def("telemetry_metrics")
    blocking = {spec.name: spec.blocking for spec in ingest.check_specs}
    assert blocking == {"rows_accounted_for": True, "quarantine_share_below_threshold": True, "all_files_readable": False}


def test_sensor_and_job_are_registered():
    assert defs.resolve_sensor_def("landing_zone_sensor").job_name == "landing_ingestion_job"


def test_loading_the_code_location_does_not_import_heavy_libraries():
    code = f"import sys, ops_pipelines.definitions; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dagster_cli_validates_the_workspace(tmp_path):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    exe = Path(sys.executable).with_name("dagster")
    env = {"PATH": str(exe.parent), "DAGSTER_HOME": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1", "HOME": str(tmp_path)}
    out = subprocess.run([str(exe), "definitions", "validate", "-w", "workspace.yaml"], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "All code locations passed validation" in out.stderr + out.stdout


def test_every_asset_has_a_domain_group_owner_kind_and_description():
    from ops_pipelines.definitions import defs

    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.group_name in {"aiops", "mlops", "llmops", "platform"}, name
        assert spec.owners == [f"team:{spec.group_name}"], name
        assert spec.kinds and spec.description and spec.description.strip(), name


def test_the_cross_domain_edges_are_real_dependencies():
    import dagster as dg

    from ops_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}
    assert {"llm_kpi_series", "pipeline_run_telemetry", "telemetry_metrics"} <= parents["metric_anomalies"]
    assert "incidents" in parents["training_dataset"] and "incidents" in parents["drift_report"]
    assert {"telemetry_metrics", "incidents"} <= parents["incident_risk_features"]
    assert {"incidents", "drift_report", "llm_quality_daily"} <= parents["ops_health_report"]
    assert graph.get(dg.AssetKey("training_dataset")).partitions_def is not None


def test_downstream_daily_assets_follow_their_inputs_and_daily_assets_have_a_freshness_check():
    import dagster as dg

    from ops_pipelines.definitions import defs
    from ops_pipelines.defs.mlops.training import TRAINING_ASSETS
    from ops_pipelines.defs.platform.freshness import WATCHED

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        automated = node.automation_condition is not None
        expected = bool(node.parent_keys - {key}) and key.to_user_string() not in TRAINING_ASSETS
        assert automated == expected, key.to_user_string()
    checks = {k.asset_key.to_user_string() for k in graph.asset_check_keys if k.name == "freshness_check"}
    assert checks == set(WATCHED)
    # The sensor evaluates them; the jobs that write a day (maybe an old one) do not.
    for job in ("daily_job", "landing_ingestion_job"):
        keys = defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        assert not [k for k in keys if k.name == "freshness_check"], job
    sensor = defs.resolve_sensor_def("freshness_checks_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
