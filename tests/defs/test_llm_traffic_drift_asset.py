"""llm_traffic_drift as Dagster runs it: the week before from the IO manager, metadata, Evidently's report."""

import dagster as dg
import pandas as pd
import pytest

from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.defs.llmops.traffic import llm_traffic_drift
from ops_pipelines.defs.llmops.traffic_html import llm_traffic_drift_html
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.resources.landing_zone import LandingZone


@pytest.fixture(scope="module")
def traces(topic_shift_world, tmp_path_factory):
    """llm_traces of the shift day and the eight days before it, ingested once for both tests (each reads
    them and writes the drift partitions of a day of its own)."""
    root, shift, days = topic_shift_world
    storage = tmp_path_factory.mktemp("traffic_drift") / "s"
    resources = {"landing_zone": LandingZone(root=str(root)), "io_manager": ParquetIOManager(base_dir=str(storage))}
    for day in days[days.index(shift["date"]) - 8:]:
        assert dg.materialize([llm_traces], partition_key=day, resources=resources).success
    return resources, storage


def test_the_shift_day_is_flagged_named_and_reported(topic_shift_world, traces, tmp_path):
    _, shift, _ = topic_shift_world
    resources, storage = traces
    config = {"ops": {"llm_traffic_drift_html": {"config": {"reports_dir": str(tmp_path / "reports")}}}}
    result = dg.materialize([llm_traces, llm_traffic_drift, llm_traffic_drift_html], selection=[llm_traffic_drift, llm_traffic_drift_html],
                            partition_key=shift["date"], resources=resources, run_config=config)
    assert result.success
    meta = result.asset_materializations_for_node("llm_traffic_drift")[0].metadata
    assert meta["drifted"].value is True and meta["groups_drifted"].value == 2
    assert "homehub" in meta["new_topic"].value
    assert meta["support-assistant/support-v1/topic_score"].value >= 0.1
    pages = result.asset_materializations_for_node("llm_traffic_drift_html")[0].metadata
    assert pages["dagster/row_count"].value == 2  # one page per drifted group
    report = pages["support-assistant/support-v1/report"].value
    html = open(report, encoding="utf-8").read()
    assert report.startswith(str(tmp_path / "reports" / "llm_traffic_drift" / shift["date"]))
    assert "question word count" in html and "topic" in html
    table = pd.read_parquet(storage / "llm_traffic_drift" / f"{shift['date']}.parquet")
    assert sorted(table["prompt_version"]) == ["support-v1", "support-v2"] and table["reference_days"].eq(7).all()


def test_a_day_without_drift_gets_no_report_unless_all_are_asked_for(topic_shift_world, traces, tmp_path):
    _, shift, days = topic_shift_world
    day = days[days.index(shift["date"]) - 1]
    resources, _ = traces

    def run(policy: str | None):
        config = {"reports_dir": str(tmp_path / "reports" / str(policy)), **({"html_report": policy} if policy else {})}
        result = dg.materialize([llm_traces, llm_traffic_drift, llm_traffic_drift_html],
                                selection=[llm_traffic_drift, llm_traffic_drift_html], partition_key=day,
                                resources=resources, run_config={"ops": {"llm_traffic_drift_html": {"config": config}}})
        assert result.asset_materializations_for_node("llm_traffic_drift")[0].metadata["drifted"].value is False
        return result.asset_materializations_for_node("llm_traffic_drift_html")[0].metadata

    default = run(None)
    assert default["dagster/row_count"].value == 0 and not any(k.endswith("/report") for k in default)
    assert not (tmp_path / "reports" / "None").exists()
    every = run("all")
    reports = [v.value for k, v in every.items() if k.endswith("/report")]
    assert len(reports) == 2 and all(open(r, encoding="utf-8").read().count("question word count") for r in reports)
    with pytest.raises(Exception, match="is not one of drifted, all, none"):
        run("sometimes")
