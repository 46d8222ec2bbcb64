"""Train a candidate model on a dataset version, log it to MLflow with its lineage and register it.

The fit is deterministic: rows are put in a canonical order and every `random_state` in the
pipeline is seeded, so the same dataset version always gives the same model and holdout metrics
(`reproduce.reproduce_training` relies on this).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops_pipelines import keys
from ops_pipelines.lib.mlops.config import ModelSpec
from ops_pipelines.lib.mlops.datasets import DatasetVersion

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

SEED = 0
MODEL_NAME = "model"  # the model's name inside its run
# Types in our sklearn pipelines that skops does not trust by default, listed in code and never read
# from the artifact (see registry.load_version). OneHotEncoder keeps a numpy dtype. HistGradientBoosting's
# TreePredictor holds unchecked node indices (a forged file could crash predict); we trust it because
# only our own training writes to the artifact store.
SKOPS_TRUSTED_TYPES = ("numpy.dtype", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor")
# Pinned from the installed versions: inferring requirements spawns a subprocess (11-15 s).
REQUIREMENT_PACKAGES = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")
# The modules whose code decides a version's rows and fit: a change to any of them is new code.
FINGERPRINT_MODULES = ("training", "selection", "config", "datasets")
FINGERPRINT_TAG = keys.MLFLOW_TRAINING_FINGERPRINT
LINEAGE_KEYS = ("window", "window_start", "window_end", "excluded", "incident_ids", "upstream_partitions", "created_at")
TAG_LIMIT = 5000


@dataclass(frozen=True)
class Candidate:
    run_id: str
    version: int  # registry version of spec.registered_name
    metrics: dict[str, float]  # holdout_<metric>
    model: Any  # the fitted sklearn Pipeline
    fit_seconds: float = 0.0
    logging_seconds: float = 0.0  # log_model + registration, excluding the fit


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in REQUIREMENT_PACKAGES]


def code_version(spec: ModelSpec) -> str:
    """Package version + hash of the model's config entry: changes when code release or config changes."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("ops_pipelines")
    except PackageNotFoundError:
        package = "0+unknown"
    entry = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    return f"{package}+cfg.{hashlib.sha256(entry.encode()).hexdigest()[:12]}"


def code_fingerprint() -> str:
    """sha256 (12 hex) of the source of FINGERPRINT_MODULES, the pinned library versions and the seed:
    changes with any edit to the code that shapes a fit, released or not."""
    from pathlib import Path

    digest = hashlib.sha256(json.dumps({"requirements": pip_requirements(), "seed": SEED}).encode())
    for name in FINGERPRINT_MODULES:
        digest.update((Path(__file__).with_name(f"{name}.py")).read_bytes())
    return digest.hexdigest()[:12]


def training_fingerprint(spec: ModelSpec, dataset_version: str) -> str:
    """What a trained version is a function of: the dataset version (content hash), the model's
    config entry (features, estimator and its params, split) with the package version, and the code
    fingerprint. Equal fingerprints train identical models (the fit is deterministic)."""
    parts = {"dataset": dataset_version, "config": code_version(spec), "code": code_fingerprint()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def identical_version(client: MlflowClient, spec: ModelSpec, dataset_version: str):
    """The newest registered version of the model trained on the same dataset version with the same
    code and params (same training fingerprint), or None: retraining it would only register a copy."""
    fingerprint = training_fingerprint(spec, dataset_version)
    versions = client.search_model_versions(f"name='{spec.registered_name}'")
    same = [v for v in versions if v.tags.get(FINGERPRINT_TAG) == fingerprint]
    return max(same, key=lambda v: int(v.version)) if same else None


def check_frame(frame: pd.DataFrame, spec: ModelSpec, role: str) -> None:
    """Raise ValueError naming the problem when `frame` cannot be used to fit or score the model."""
    import numpy as np
    import pandas as pd

    missing = [c for c in (*spec.features, spec.target) if c not in frame.columns]
    if missing:
        raise ValueError(f"{role} rows lack columns {missing}")
    if frame.empty:
        raise ValueError(f"{role} rows are empty")
    target = pd.to_numeric(frame[spec.target], errors="coerce")
    if target.isna().any() or not target.isin([0, 1]).all():
        raise ValueError(f"{role} target {spec.target!r} must be 0/1 without nulls")
    for col in spec.numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        if (values.isna() & frame[col].notna()).any():
            raise ValueError(f"{role} column {col!r} holds non-numeric values")
        if np.isinf(values.to_numpy(dtype=float)).any():
            raise ValueError(f"{role} column {col!r} holds infinite values (NaN is imputed, inf is a data error)")
    if spec.time_column in frame.columns and getattr(frame[spec.time_column].dtype, "tz", None) is None:
        raise ValueError(f"{role} time column {spec.time_column!r} must be timezone-aware (UTC)")


def canonical_rows(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The model's columns in a fixed row order, so the fit does not depend on the input order."""
    cols = [c for c in spec.dataset_columns if c in frame.columns]
    return frame[cols].sort_values(cols, kind="mergesort", na_position="last").reset_index(drop=True)


def fit_pipeline(spec: ModelSpec, train: pd.DataFrame):
    """Fit `spec.build_pipeline()` on `train` deterministically (seeded, canonical row order)."""
    import pandas as pd

    check_frame(train, spec, "training")
    rows = canonical_rows(train, spec)
    if rows[spec.target].nunique() < 2:
        raise ValueError("training rows hold a single class: cannot fit a classifier")
    pipeline = spec.build_pipeline()
    seeds = {k: SEED for k, v in pipeline.get_params().items() if k.endswith("random_state") and v is None}
    pipeline.set_params(**seeds)
    target = pd.to_numeric(rows[spec.target]).astype(int)
    return pipeline.fit(rows[list(spec.features)], target)


def model_inputs(model: Any, frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The columns `model` was fitted on (a champion trained under an older feature list keeps its
    own), else the spec's features; ValueError naming what the frame lacks."""
    columns = [str(c) for c in getattr(model, "feature_names_in_", spec.features)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the model needs columns {missing} that these rows lack")
    return frame[columns]


def holdout_metrics(model: Any, holdout: pd.DataFrame, spec: ModelSpec) -> dict[str, float]:
    """roc_auc, log_loss, accuracy, average_precision, positive rates on `holdout` (NaN when undefined)."""
    import numpy as np
    import pandas as pd
    from sklearn import metrics

    check_frame(holdout, spec, "holdout")
    y = pd.to_numeric(holdout[spec.target]).astype(int).to_numpy()
    p = model.predict_proba(model_inputs(model, holdout, spec))[:, 1]
    both = len(np.unique(y)) == 2  # ranking metrics need both classes
    out = {
        "roc_auc": metrics.roc_auc_score(y, p) if both else float("nan"),
        "average_precision": metrics.average_precision_score(y, p) if both else float("nan"),
        "log_loss": metrics.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "accuracy": metrics.accuracy_score(y, (p >= 0.5).astype(int)),
        "positive_rate": y.mean(),
        "predicted_positive_rate": p.mean(),
        "rows": len(y),
    }
    return {f"holdout_{k}": float(v) for k, v in out.items()}


def check_split(train: pd.DataFrame, holdout: pd.DataFrame, spec: ModelSpec) -> None:
    """The holdout must not be older than the training rows (evaluation is forward in time)."""
    t = spec.time_column
    if t in train.columns and t in holdout.columns and holdout[t].min() < train[t].max():
        raise ValueError(f"holdout starts at {holdout[t].min()} before the last training row {train[t].max()}")


def lineage_summary(dataset: DatasetVersion) -> str:
    """Window, exclusion counts and incidents from the dataset manifest, as JSON short enough for a tag."""
    lineage = dataset.lineage
    picked = {k: lineage[k] for k in LINEAGE_KEYS if k in lineage}
    text = json.dumps(picked, sort_keys=True, default=str)
    if len(text) > TAG_LIMIT:  # long partition lists: keep the counts, point at the manifest
        picked.pop("upstream_partitions", None)
        picked["incident_ids"] = len(lineage.get("incident_ids", []))
        picked["manifest"] = str(dataset.path.with_name("manifest.json"))
        text = json.dumps(picked, sort_keys=True, default=str)[:TAG_LIMIT]
    return text


def dataset_input(frame: pd.DataFrame, spec: ModelSpec, dataset: DatasetVersion):
    """An `mlflow.data` dataset for `frame` with our digest and a schema inferred cheaply.

    MLflow's default digest hashes only the first 10,000 rows and skips datetime columns; ours is
    the content hash of every row and column (canonical order). Its schema inference visits every
    value of text columns (~4 s per 100k rows); one row per distinct value, plus rows with
    missing values, gives the same types and required flags.
    """
    import mlflow.data
    from mlflow.models import infer_signature

    from ops_pipelines.lib.mlops.datasets import content_version

    rows = canonical_rows(frame, spec)
    keep = rows.isna().any(axis=1).to_numpy()
    keep[:1] = True
    for col in rows.columns[rows.dtypes == object]:  # noqa: E721 (pandas: an elementwise mask of the dtypes)
        keep[~rows[col].duplicated().to_numpy()] = True
    with warnings.catch_warnings():
        # Harmless hints: a file URI matches two equivalent source classes; integer columns.
        warnings.simplefilter("ignore", UserWarning)
        data = mlflow.data.from_pandas(rows, source=dataset.uri, name=f"{spec.name}@{dataset.version}",
                                       targets=spec.target, digest=content_version(rows))
        data.__dict__["schema"] = infer_signature(rows[keep]).inputs  # pre-fills the cached_property
    return data


def model_signature(model: Any, train: pd.DataFrame, spec: ModelSpec):
    """Signature from a few rows, integers declared as doubles (the pipeline imputes missing numbers)."""
    from mlflow.models import infer_signature

    sample = train[list(spec.features)].head(20)
    sample = sample.astype({c: "float64" for c in spec.numeric})
    return infer_signature(sample, model.predict_proba(sample))


def register(client: MlflowClient, name: str, info: Any, run_id: str, tags: dict[str, str]) -> int:
    """A new version of `name` for a logged model, tags included (one write, not one per tag)."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    created = client.create_model_version(name, source=info.model_uri, run_id=run_id, tags=tags,
                                          model_id=info.model_id)
    return int(created.version)


def train_candidate(spec: ModelSpec, dataset: DatasetVersion, train: pd.DataFrame, holdout: pd.DataFrame, *,
                    client: MlflowClient, tags: dict[str, str] | None = None) -> Candidate:
    """Fit on `train`, score `holdout`, log params/metrics/dataset/model to MLflow, register a new version."""
    import mlflow
    import mlflow.sklearn

    from ops_pipelines.lib.mlops.tracking import model_experiment, use_client

    check_frame(train, spec, "training")
    check_frame(holdout, spec, "holdout")
    check_split(train, holdout, spec)
    started = time.perf_counter()
    model = fit_pipeline(spec, train)
    fit_seconds = time.perf_counter() - started
    scores = holdout_metrics(model, holdout, spec)

    version_tags = {
        keys.MLFLOW_DATASET_VERSION: dataset.version,
        keys.MLFLOW_DATASET_MODEL: dataset.model,
        keys.MLFLOW_DATASET_PATH: str(dataset.path),
        keys.MLFLOW_LINEAGE: lineage_summary(dataset),
        keys.MLFLOW_CODE_VERSION: code_version(spec),
        keys.MLFLOW_CODE_FINGERPRINT: code_fingerprint(),
        FINGERPRINT_TAG: training_fingerprint(spec, dataset.version),
        keys.MLFLOW_TRAIN_ROWS: str(len(train)),
        keys.MLFLOW_HOLDOUT_ROWS: str(len(holdout)),
        **(tags or {}),
    }
    use_client(client.tracking_uri)
    experiment = model_experiment(client, spec.registered_name)
    with mlflow.start_run(experiment_id=experiment, run_name=f"{spec.name}@{dataset.version}",
                          tags={keys.MLFLOW_MODEL: spec.name, **version_tags}) as run:
        estimator = model.named_steps["model"]
        mlflow.log_params({
            "estimator": f"{type(estimator).__module__}.{type(estimator).__name__}",
            **{f"estimator.{k}": v for k, v in sorted(estimator.get_params(deep=False).items())},
            "features.numeric": json.dumps(list(spec.numeric)),
            "features.categorical": json.dumps(list(spec.categorical)),
            "target": spec.target, "seed": SEED, "dataset_version": dataset.version,
        })
        mlflow.log_metrics(scores)
        for frame, context in ((train, "training"), (holdout, "evaluation")):
            mlflow.log_input(dataset_input(frame, spec, dataset), context=context,
                             tags={keys.MLFLOW_DATASET_VERSION: dataset.version})
        started = time.perf_counter()
        info = mlflow.sklearn.log_model(
            model, name=MODEL_NAME, serialization_format="skops", skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=pip_requirements(), signature=model_signature(model, train, spec),
            # No input_example: MLflow would load the model back to validate it, which the disabled
            # deserialization forbids (a warning and ~1 s); the signature documents the inputs.
            pyfunc_predict_fn="predict_proba",
        )
        version = register(client, spec.registered_name, info, run.info.run_id, version_tags)
        logging_seconds = time.perf_counter() - started
    return Candidate(run.info.run_id, version, scores, model, fit_seconds, logging_seconds)
