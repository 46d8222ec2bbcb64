"""MLflow wiring: explicit tracking URI and artifact location, telemetry off, model deserialization off.

MLflow's defaults write `mlflow.db` and `mlruns/` into the current directory and phone home, so
every entry point calls `configure_mlflow` first. The same database serves tracking and registry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

TRACKING_URI_ENV = "OPS_MLFLOW_TRACKING_URI"
ARTIFACT_ROOT_ENV = "OPS_MLFLOW_ARTIFACT_ROOT"

# tracking URI -> artifact root given to configure_mlflow, so code holding only a client can
# still create experiments with an explicit artifact location (never MLflow's ./mlruns default).
_ARTIFACT_ROOTS: dict[str, Path] = {}


def default_tracking_uri(home: Path | str) -> str:
    """`$OPS_MLFLOW_TRACKING_URI` (e.g. `postgresql://user:pw@host:5432/mlflow`), else SQLite under `home`."""
    override = os.environ.get(TRACKING_URI_ENV)
    if override:
        return override
    return f"sqlite:///{(Path(home).resolve() / 'mlflow' / 'mlflow.db').as_posix()}"


def default_artifact_root(home: Path | str) -> Path:
    """`$OPS_MLFLOW_ARTIFACT_ROOT`, else `<home>/mlflow/artifacts`."""
    override = os.environ.get(ARTIFACT_ROOT_ENV)
    return Path(override) if override else Path(home).resolve() / "mlflow" / "artifacts"


def configure_mlflow(tracking_uri: str, artifact_root: Path | str) -> MlflowClient:
    """Point MLflow (fluent API and a returned client) at one tracking/registry store."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # Loading a model artifact can run code (skops reads its allow-list from the artifact itself).
    # We load through our own skops call with a trusted-types list from code (registry.load_version),
    # so MLflow's own loaders stay closed unless the user opened them explicitly.
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    # Its per-download progress bars would fill every run's log (a model load is 5 downloads).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    Path(artifact_root).mkdir(parents=True, exist_ok=True)
    _ARTIFACT_ROOTS[tracking_uri] = Path(artifact_root).resolve()
    use_client(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def experiment_id(client: MlflowClient, name: str, artifact_root: Path | str) -> str:
    """The id of experiment `name`, created with its artifacts under `artifact_root/<name>` if new."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    location = (Path(artifact_root).resolve() / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def use_client(tracking_uri: str) -> None:
    """Point MLflow's fluent API (start_run, log_model) at this store; a second client may have moved it."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def model_experiment(client: MlflowClient, name: str) -> str:
    """Experiment `name` on the client's store, created under the artifact root given to `configure_mlflow`."""
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "deleted":
        return found.experiment_id
    root = _ARTIFACT_ROOTS.get(client.tracking_uri)
    if root is None:
        raise RuntimeError(f"call configure_mlflow({client.tracking_uri!r}, artifact_root) before training")
    return experiment_id(client, name, root)
