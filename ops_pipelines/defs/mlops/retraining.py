"""The retraining job and the sensor that launches it: once per drift event (or bootstrap) per model."""

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.mlops.drift import ASSET as DRIFT_REPORT
from ops_pipelines.defs.mlops.drift import RETRAINING_JOB
from ops_pipelines.defs.mlops.training import TRAINING_ASSETS
from ops_pipelines.defs.partitions import training_partitions

retraining_job = dg.define_asset_job(
    RETRAINING_JOB,
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    partitions_def=training_partitions,
    # One process per run: the steps share MLflow and sklearn imports.
    executor_def=dg.in_process_executor,
    description="One model, one as-of day: dataset version, validation gates, candidate, evaluation, alias decision.",
)


def retraining_requests(day: str, metadata: dict, models: list[str]) -> list[dg.RunRequest]:
    """Run requests from one drift_report materialization's metadata (empty key: nothing to do)."""
    requests = []
    for model in models:
        key = _text(metadata.get(keys.model_key(model, keys.RETRAIN_KEY)))
        if not key:
            continue
        reason = _text(metadata.get(keys.model_key(model, keys.RETRAIN_REASON)))
        incidents = _text(metadata.get(keys.model_key(model, keys.INCIDENTS)))
        window_start = _text(metadata.get(keys.model_key(model, keys.WINDOW_START_DAY)))
        tags = {keys.TRIGGER: reason, keys.DRIFT_EVENT: key, keys.WINDOW_START: window_start}
        if incidents:
            tags[keys.INCIDENTS_IN_DRIFT_WINDOW] = incidents
        requests.append(dg.RunRequest(run_key=key, partition_key=dg.MultiPartitionKey({"date": day, "model": model}), tags=tags))
    return requests


def retrained_models() -> list[str]:
    """The models retraining_job has partitions for: the only ones the sensor launches runs for."""
    return training_partitions.get_partitions_def_for_dimension("model").get_partition_keys()


def _text(value) -> str:
    return "" if value is None else str(getattr(value, "value", value) or "")


@dg.sensor(job=retraining_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Reads each new drift_report materialization and launches retraining_job for every model whose "
                       "drift, performance decay or missing champion calls for it; the run key is the drift event, "
                       "so one event gives one run however often the sensor looks.")
def retraining_sensor(context: dg.SensorEvaluationContext):
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(DRIFT_REPORT), after_storage_id=after), limit=100, ascending=True
    ).records
    if not records:
        return dg.SkipReason("no new drift reports")
    models = retrained_models()
    requests = []
    for record in records:
        materialization = record.asset_materialization
        requests += retraining_requests(materialization.partition, materialization.metadata, models)
    context.update_cursor(str(records[-1].storage_id))
    return requests or dg.SkipReason(f"{len(records)} drift reports, none asks for retraining")
