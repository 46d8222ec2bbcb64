"""Evidently's HTML drift report per model, for people to open: its own asset, after drift_report.

The numbers (and the retraining decision) are drift_report's; this page costs seconds a model plus
Evidently's import, so it is kept off the path the next day and the retraining sensor wait on: the
daily job computes it after drift_report, and `ops-pipelines run` / the demo run it beside the next day.
"""

import dagster as dg

from ops_pipelines.defs.mlops.drift import ASSET as DRIFT_REPORT
from ops_pipelines.defs.mlops.drift import SOURCES
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.report_policy import checked, wants_report
from ops_pipelines.io.parquet import StoredPartitions
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.model_registry import ModelRegistry

ASSET = "drift_report_html"


class DriftReportHtmlConfig(dg.Config):
    """Which days get the HTML report per model: `drifted` (default: feature, prediction or label drift, or
    performance decay), `all` or `none` (defs/report_policy.py)."""

    html_report: str = "drifted"


@dg.asset(
    name=ASSET,
    partitions_def=daily_partitions,
    group_name="mlops", owners=["team:mlops"],
    kinds={"evidently", "html"},
    ins={"drift_report": dg.AssetIn(DRIFT_REPORT)},
    deps=SOURCES,
)
def drift_report_html(context: dg.AssetExecutionContext, config: DriftReportHtmlConfig, drift_report,
                      model_registry: ModelRegistry, dataset_store: DatasetStore, stored_partitions: StoredPartitions):
    """Per model drift_report compared (on the days `config.html_report` asks for): Evidently's DataDriftPreset
    report of the day's rows against the training dataset version drift_report compared them with
    (`<data home>/reports/drift/<day>/<model>.html`). One row per report written."""
    import pandas as pd

    from ops_pipelines.lib.mlops.drift import save_drift_report

    policy = checked(config.html_report)
    day = context.partition_key
    folder = model_registry.reports_dir() / "drift" / day
    specs = {spec.name: spec for spec in model_registry.models()}
    written = []
    for row in drift_report.to_dict("records"):
        spec = specs.get(row["model"])
        # No drift computed (no champion yet, no rows): nothing to compare.
        if spec is None or row["columns"] == "{}" or not wants_report(policy, flagged(row)):
            continue
        reference = dataset_store.load(spec.name, row["dataset_version"])
        current = stored_partitions.read(spec.source, [day])
        path = save_drift_report(reference, current, list(spec.drift_columns), folder / f"{spec.name}.html",
                                 categorical=[c for c in spec.drift_columns if c in spec.categorical])
        written.append({"model": spec.name, "day": day, "dataset_version": row["dataset_version"], "path": str(path)})
    out = pd.DataFrame(written, columns=["model", "day", "dataset_version", "path"])
    return dg.Output(out, metadata={"dagster/row_count": len(out), "policy": policy,
                                    **{f"{r['model']}/report": dg.MetadataValue.path(r["path"]) for r in written}})


def flagged(row: dict) -> bool:
    """Feature, prediction or label drift, or performance decay in drift_report's row: a day someone should look
    at (a verdict that was not made is missing there)."""
    import pandas as pd

    return any(bool(row.get(k)) and not pd.isna(row.get(k))
               for k in ("dataset_drift", "prediction_drift", "label_drift", "performance_decay"))
