"""Model registry access: aliases (`champion`, `challenger`), lineage tags, safe model loading.

Stages are deprecated in MLflow 3: the serving model is whatever version holds alias `champion`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops_pipelines import keys

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"


def _missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias`, or None when the alias or the registered model does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    return version_by_alias(client, name, CHAMPION)


def set_alias(client: MlflowClient, name: str, alias: str, version: int | str) -> None:
    """Point `alias` at `version` (an alias names one version at a time; the old holder loses it)."""
    client.set_registered_model_alias(name, alias, str(version))


def dataset_version_of(client: MlflowClient, name: str, version: int | str) -> str:
    """The content version of the dataset a model version was trained on (tag `ops.dataset_version`)."""
    tags = client.get_model_version(name, str(version)).tags
    if keys.MLFLOW_DATASET_VERSION not in tags:
        raise KeyError(f"model {name} version {version} has no ops.dataset_version tag (not trained by ops_pipelines?)")
    return tags[keys.MLFLOW_DATASET_VERSION]


def load_version(client: MlflowClient, name: str, version: int | str) -> Any:
    """The fitted sklearn pipeline of a registered version, deserialized with skops only.

    MLflow 3.17's loaders refuse every format (skops included) while
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION is false, because they trust the skops allow-list stored in
    the artifact itself. We read the skops file directly and trust only the types listed in our
    code (training.SKOPS_TRUSTED_TYPES: `numpy.dtype`, kept by OneHotEncoder); anything else in
    the file is refused, and pickle is never used.
    """
    import mlflow
    import skops.io
    import yaml

    from ops_pipelines.lib.mlops.training import SKOPS_TRUSTED_TYPES

    with tempfile.TemporaryDirectory(prefix="ops_model_") as tmp:
        uri = client.get_model_version_download_uri(name, str(version))
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp,
                                                         tracking_uri=client.tracking_uri))
        flavor = yaml.safe_load((local / "MLmodel").read_text()).get("flavors", {}).get("sklearn", {})
        if flavor.get("serialization_format") != "skops":
            raise ValueError(f"model {name} version {version} is not stored with skops "
                             f"({flavor.get('serialization_format')!r}): refusing to unpickle it")
        path = local / flavor["pickled_model"]
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED_TYPES))
        if untrusted:
            raise ValueError(f"model {name} version {version} contains types we do not trust: {untrusted}")
        return skops.io.load(path, trusted=list(SKOPS_TRUSTED_TYPES))
