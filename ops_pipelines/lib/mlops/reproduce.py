"""Retrain a registered version from the dataset version it records and check the result matches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ops_pipelines import keys
from ops_pipelines.lib.mlops.config import ModelSpec
from ops_pipelines.lib.mlops.datasets import DatasetStore

if TYPE_CHECKING:
    from mlflow import MlflowClient


def recorded_metrics(client: MlflowClient, name: str, version: int | str) -> dict[str, float]:
    """The holdout metrics logged by the training run of a registered version."""
    run_id = client.get_model_version(name, str(version)).run_id
    metrics = client.get_run(run_id).data.metrics
    return {k: float(v) for k, v in metrics.items() if k.startswith("holdout_")}


def reproduce_training(client: MlflowClient, store: DatasetStore, spec: ModelSpec, version: int) -> dict[str, float]:
    """Load the version's dataset, split it with the same rule, retrain, and return the holdout metrics.

    Equal to `recorded_metrics` when training is deterministic and the dataset is intact (the store
    is content-addressed, so a changed snapshot fails to load under its old version).
    """
    from ops_pipelines.lib.mlops.datasets import content_version
    from ops_pipelines.lib.mlops.registry import dataset_version_of
    from ops_pipelines.lib.mlops.selection import split_holdout
    from ops_pipelines.lib.mlops.training import fit_pipeline, holdout_metrics

    dataset = dataset_version_of(client, spec.registered_name, version)
    tags = client.get_model_version(spec.registered_name, str(version)).tags
    frame = store.load(tags.get(keys.MLFLOW_DATASET_MODEL, spec.name), dataset)
    if content_version(frame) != dataset:
        raise ValueError(f"dataset {dataset} of {spec.name} was modified on disk: its content hash no longer matches")
    train, holdout = split_holdout(frame, spec)
    return holdout_metrics(fit_pipeline(spec, train), holdout, spec)
