"""The prediction log: what each model version served, so any logged prediction can be explained again."""

import dagster as dg

from ops_pipelines.defs.mlops.drift import SOURCES
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.io.parquet import StoredPartitions
from ops_pipelines.resources.model_registry import ModelRegistry


@dg.asset(
    partitions_def=daily_partitions,
    group_name="mlops", owners=["team:mlops"],
    kinds={"parquet", "sklearn"},
    deps=SOURCES,
)
def prediction_log(context: dg.AssetExecutionContext, drift_report, model_registry: ModelRegistry,
                   stored_partitions: StoredPartitions):
    """Every event of the day scored by the champion that served it (the version the day's drift report
    used): event id, time, model, version, its dataset version and the score. `ops-pipelines explain
    --event-id` traces a prediction to its version and row through it."""
    import pandas as pd

    from ops_pipelines.lib.mlops.predictions import COLUMNS, logged_predictions

    day = context.partition_key
    frames, metadata = [], {}
    for row in drift_report.to_dict("records") if len(drift_report) else []:
        if pd.isna(row.get("champion_version")):
            continue  # no champion served that day
        spec, version = model_registry.spec(row["model"]), int(row["champion_version"])
        scored = logged_predictions(model_registry.load(spec.name, version), stored_partitions.read(spec.source, [day]),
                                    spec, day=day, version=version, dataset_version=str(row["dataset_version"]))
        frames.append(scored)
        metadata[f"{spec.name}/version"] = version
        metadata[f"{spec.name}/rows"] = len(scored)
    out = (pd.concat(frames, ignore_index=True) if frames
           else pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}))
    context.log.info(f"{len(out)} prediction(s) logged for {day}")
    return dg.Output(out, metadata={"dagster/row_count": len(out), **metadata})
