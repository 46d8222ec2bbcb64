"""Monitored models from config (`assets/mlops/models.json`): adding a model is an entry, not code."""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops_pipelines.settings import ASSETS_DIR

MODELS_FILE = ASSETS_DIR / "mlops" / "models.json"
MODELS_ENV = "OPS_PIPELINES_MODELS"  # another models file (read when the code location loads)
SUITES_DIR = ASSETS_DIR / "mlops" / "expectations"


@dataclass(frozen=True)
class TrainingSpec:
    window_days: int = 5  # days of data a (re)training uses, ending at the as-of day
    holdout_share: float = 0.25  # the latest share of the window, by time, held out for evaluation
    min_rows: int = 5000
    # A drift retraining trains on data since the event began, but on at least this many days
    # (ending at the as-of day): a stream with few rows a day cannot learn from the event's first day alone.
    min_drift_window_days: int = 1


@dataclass(frozen=True)
class DriftSpec:
    columns: tuple[str, ...] | None = None  # None: every feature
    drift_share: float = 0.5  # dataset drift when at least this share of columns drifted
    performance_metric: str = "roc_auc"
    max_performance_drop: float = 0.05  # decay trigger: champion metric below its validation value by this
    # A drift event lasts while days stay flagged for the same champion and asks for one retraining. When
    # that retraining did not replace the champion (gate rejected it) and the drift goes on, None waits for
    # the event to end; N starts a new event (a new retraining) once the event is N days old.
    retry_after_days: int | None = None


@dataclass(frozen=True)
class PromotionSpec:
    metric: str = "roc_auc"
    min_improvement: float = 0.0  # candidate - champion must be at least this on the shared window
    max_slice_drop: float = 0.05  # and no slice may lose more than this
    slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvaluationSpec:
    """How much evidence a verdict needs: an evaluation window (the daily champion check, the promotion
    holdout) grows backwards until each class has `min_labels_per_class` labels, at most `max_window_days`."""

    min_labels_per_class: int = 30  # a ranking metric on fewer labels of a class is noise
    max_window_days: float | None = None  # None: no growth (the day alone, the plain holdout share)
    max_holdout_share: float = 0.5  # a grown holdout never takes more of the dataset: the candidate must learn


@dataclass(frozen=True)
class FairnessSpec:
    """Bias across groups (`lib/mlops/fairness.py`): per-group quality of the champion every day and of the
    candidate at evaluation, for each column in `groups` (e.g. user_segment, device)."""

    groups: tuple[str, ...] = ()  # empty: no per-group figures, no check, no gate
    metric: str = "roc_auc"
    # Daily warning: a group's metric fell more than this below the rest's, against the same gap on the
    # champion's holdout (95% confidence, as the slice gate); groups differ by nature, so the change is judged.
    margin: float = 0.05
    # Promotion gate: the candidate's disparity (best minus worst group) may exceed the champion's by at most this.
    max_disparity_widening: float = 0.05
    min_labels_per_class: int = 30  # a group with fewer labels of a class is reported as skipped, not judged


@dataclass(frozen=True)
class IncidentExclusion:
    services: tuple[str, ...] | None = None  # None: incidents of any service
    padding_minutes: int = 15


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    source: str  # asset whose daily partitions feed the model
    time_column: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    estimator_class: str
    estimator_params: dict[str, Any] = field(default_factory=dict)
    training: TrainingSpec = TrainingSpec()
    drift: DriftSpec = DriftSpec()
    promotion: PromotionSpec = PromotionSpec()
    exclude_incidents: IncidentExclusion | None = None
    keys: tuple[str, ...] = ()  # identify a row (e.g. the service): kept in dataset versions, never model input
    evaluation: EvaluationSpec = EvaluationSpec()
    fairness: FairnessSpec = FairnessSpec()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def dataset_columns(self) -> tuple[str, ...]:
        """What a dataset version keeps: time, keys, features, target (each once, in that order)."""
        return tuple(dict.fromkeys((self.time_column, *self.keys, *self.features, self.target)))

    @property
    def drift_columns(self) -> tuple[str, ...]:
        return self.drift.columns or self.features

    @property
    def registered_name(self) -> str:
        return f"ops_pipelines.{self.name}"

    def build_pipeline(self):
        """An unfitted sklearn Pipeline: impute + scale numbers, one-hot categories, the estimator."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        module_name, _, class_name = self.estimator_class.rpartition(".")
        estimator = getattr(importlib.import_module(module_name), class_name)(**self.estimator_params)
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(self.numeric)),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(self.categorical)),
        ])
        return Pipeline([("features", pre), ("model", estimator)])


def _spec(raw: dict[str, Any]) -> ModelSpec:
    estimator = raw["estimator"]
    if not str(estimator["class"]).startswith("sklearn."):
        raise ValueError(f"model {raw['name']!r}: estimator must be a scikit-learn class, got {estimator['class']!r}")
    drift = dict(raw.get("drift") or {})
    if drift.get("columns") is not None:
        drift["columns"] = tuple(drift["columns"])
    promotion = dict(raw.get("promotion") or {})
    promotion["slices"] = tuple(promotion.get("slices") or ())
    exclusion = raw.get("exclude_incidents")
    if exclusion is not None:
        services = exclusion.get("services", "*")
        exclusion = IncidentExclusion(None if services == "*" else tuple(services), int(exclusion.get("padding_minutes", 15)))
    return ModelSpec(
        name=raw["name"], description=raw.get("description", ""), source=raw["source"],
        time_column=raw.get("time_column", "timestamp"),
        numeric=tuple(raw["features"].get("numeric", [])), categorical=tuple(raw["features"].get("categorical", [])),
        target=raw["target"], estimator_class=estimator["class"], estimator_params=dict(estimator.get("params", {})),
        training=TrainingSpec(**(raw.get("training") or {})), drift=DriftSpec(**drift),
        promotion=PromotionSpec(**promotion), exclude_incidents=exclusion, keys=tuple(raw.get("keys") or ()),
        evaluation=_evaluation(raw), fairness=_fairness(raw),
    )


def _fairness(raw: dict[str, Any]) -> FairnessSpec:
    entry = dict(raw.get("fairness") or {})
    entry["groups"] = tuple(entry.get("groups") or ())
    spec = FairnessSpec(**entry)
    if spec.margin < 0 or spec.max_disparity_widening < 0 or spec.min_labels_per_class < 1:
        raise ValueError(f"model {raw['name']!r}: fairness needs margin >= 0, max_disparity_widening >= 0 and "
                         f"min_labels_per_class >= 1; got {raw.get('fairness')}")
    return spec


def _evaluation(raw: dict[str, Any]) -> EvaluationSpec:
    spec = EvaluationSpec(**(raw.get("evaluation") or {}))
    if spec.min_labels_per_class < 1 or (spec.max_window_days is not None and spec.max_window_days <= 0) or not 0 < spec.max_holdout_share < 1:
        raise ValueError(f"model {raw['name']!r}: evaluation needs min_labels_per_class >= 1, max_window_days > 0 (or null) "
                         f"and max_holdout_share in (0, 1); got {raw.get('evaluation')}")
    return spec


def models_file() -> Path:
    return Path(os.environ.get(MODELS_ENV) or MODELS_FILE)


def load_models(path: Path | str | None = None) -> list[ModelSpec]:
    """Every configured model (default: $OPS_PIPELINES_MODELS or the sample world's); names must be unique."""
    path = models_file() if path is None else path
    specs = [_spec(raw) for raw in json.loads(Path(path).read_text())["models"]]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate model names in {path}: {names}")
    return specs


def model_spec(name: str, path: Path | str | None = None) -> ModelSpec:
    for spec in load_models(path):
        if spec.name == name:
            return spec
    raise KeyError(f"no model {name!r} in {path}")
