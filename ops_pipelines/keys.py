"""Every tag and metadata key that one part of the project writes and another reads, in one place.

Two namespaces on purpose: Dagster run tags are `ops/<name>` (Dagster's own are `dagster/<name>`);
MLflow tags are `ops.<name>` (MLflow's convention is dotted, `mlflow.*`, and registries persist them, so
their spelling is fixed: renaming one would hide every older model version from the code that reads it).
The landing sensor's run tags were `ops_pipelines/trigger` and `ops_pipelines/files` before; nothing
reads run tags of old runs by those names, so they are not kept.
"""

# Dagster run tags set by this project.
TRIGGER = "ops/trigger"  # what launched the run: cli, demo, landing_zone, bootstrap, drift, ...
LANDING_FILES = "ops/files"  # the landing-zone files that changed (landing sensor)
WINDOW_START = "ops/window_start"  # first day of a retraining window (retraining sensor)
DRIFT_EVENT = "ops/drift_event"  # the drift event's run key (retraining sensor)
INCIDENTS_IN_DRIFT_WINDOW = "ops/incidents_in_drift_window"
RERUN_REASON = "ops/rerun_reason"  # why a day was run again (stale state)
RETRY_OF = "ops/retry_of"  # the run a storage-outage retry replaces
STORAGE_RETRY = "ops/storage_retry"  # attempt number of that retry

# Dagster's own tags and metadata keys that we read.
PARTITION = "dagster/partition"
PARTITION_DATE = "dagster/partition/date"  # the day of a (date, model) retraining partition
PARTITION_MODEL = "dagster/partition/model"
PRIORITY = "dagster/priority"  # the run queue starts higher first (default 0)
ROW_COUNT = "dagster/row_count"

# MLflow tags on runs and model versions.
MLFLOW_MODEL = "ops.model"
MLFLOW_TRIGGER = "ops.trigger"
MLFLOW_AS_OF = "ops.as_of"
MLFLOW_DRIFT_EVENT = "ops.drift_event"
MLFLOW_INCIDENTS_EXCLUDED = "ops.incidents_excluded"
MLFLOW_DAGSTER_RUN_ID = "ops.dagster_run_id"
MLFLOW_DATASET_VERSION = "ops.dataset_version"
MLFLOW_DATASET_MODEL = "ops.dataset_model"
MLFLOW_DATASET_PATH = "ops.dataset_path"
MLFLOW_LINEAGE = "ops.lineage"
MLFLOW_CODE_VERSION = "ops.code_version"
MLFLOW_CODE_FINGERPRINT = "ops.code_fingerprint"
MLFLOW_TRAINING_FINGERPRINT = "ops.training_fingerprint"
MLFLOW_TRAIN_ROWS = "ops.train_rows"
MLFLOW_HOLDOUT_ROWS = "ops.holdout_rows"
MLFLOW_DECISION = "ops.decision"
MLFLOW_DECISION_REASON = "ops.decision_reason"
MLFLOW_COMPARED_WITH = "ops.compared_with"
MLFLOW_EVALUATION = "ops.evaluation"
MLFLOW_REPLACED_BY = "ops.replaced_by"
MLFLOW_STORE_ID = "ops.store_id"  # on the registry store's marker experiment

# drift_report metadata the retraining sensor reads, one set per model: `<model>/<field>`.
RETRAIN_KEY = "retrain_key"
RETRAIN_REASON = "retrain_reason"
INCIDENTS = "incidents"
WINDOW_START_DAY = "window_start"


def model_key(model: str, field: str) -> str:
    """A per-model metadata key, e.g. `ctr_logreg/retrain_key`."""
    return f"{model}/{field}"
