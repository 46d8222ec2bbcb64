"""The daily ops health report: one page across AIOps, MLOps and LLMOps, in the UI and as HTML."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.platform.freshness import HOUR
from ops_pipelines.io.parquet import StoredPartitions


class HealthReportConfig(dg.Config):
    """Where the report files go; empty means `<data home>/reports` (the folder `ops-pipelines status` reads)."""

    reports_dir: str = ""


def health_inputs(day: str, incidents, alert_noise_report, anomaly_rollups, llm_quality_daily, prompt_version_comparison,
                  prompt_promotion, mlops_sections: list[dict] | None = None, annotations=None, freshness: str | None = None):
    """The report's inputs from the asset tables. `mlops_sections` is where MLOps plugs in: one dict
    per monitored model with the keys in `health_report.MLOPS_KEYS`; None renders "no MLOps data"."""
    from ops_pipelines.lib.platform.health_report import HealthInputs

    noise = alert_noise_report.iloc[-1].to_dict() if len(alert_noise_report) else {}
    return HealthInputs(day=day, incidents=incidents, noise=noise, llm_quality=llm_quality_daily,
                        prompt_comparison=prompt_version_comparison, prompt_promotion=prompt_promotion,
                        anomaly_rollups=anomaly_rollups, mlops=mlops_sections, annotations=annotations, freshness=freshness)


@dg.asset(partitions_def=daily_partitions, group_name="platform", owners=["team:platform"], kinds={"html"})
def ops_health_report(context: dg.AssetExecutionContext, config: HealthReportConfig, incidents, alert_noise_report,
                      anomaly_rollups, llm_quality_daily, prompt_version_comparison, prompt_promotion, drift_report,
                      anomaly_annotations, stored_partitions: StoredPartitions):
    """The day on one page: incidents with root cause and suggested action, alert-noise compression,
    model drift and retraining, LLM quality and cost, prompt promotions. Open the HTML file (plots,
    works offline) from the path below, or run `ops-pipelines status`."""
    from pathlib import Path

    from ops_pipelines import settings
    from ops_pipelines.lib.mlops.monitoring import health_sections
    from ops_pipelines.lib.platform.freshness import freshness_line
    from ops_pipelines.lib.platform.health_report import headline, write_report
    from ops_pipelines.lib.tidy_metadata import tidy

    # Retraining runs after the day's drift report (the sensor launches them), so the report shows
    # the latest decision recorded up to this day.
    evaluations = stored_partitions.read_until("model_evaluation", until=context.partition_key)
    inputs = health_inputs(context.partition_key, incidents, alert_noise_report, anomaly_rollups, llm_quality_daily,
                           prompt_version_comparison, prompt_promotion,
                           mlops_sections=health_sections(drift_report, evaluations) if len(drift_report) else None,
                           annotations=anomaly_annotations, freshness=freshness_line(context.partition_key, HOUR))
    reports_dir = Path(config.reports_dir) if config.reports_dir else settings.data_home() / "reports"
    md_path, html_path, markdown = write_report(reports_dir, inputs)
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(markdown),
        "html_path": dg.MetadataValue.path(str(html_path)),
        "markdown_path": dg.MetadataValue.path(str(md_path)),
        **tidy(headline(inputs)),
    })
