"""Shared pieces of the MLflow tests: seeded synthetic click data and a throwaway tracking store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import ModelSpec, model_spec
from ops_pipelines.lib.mlops.datasets import DatasetStore, DatasetVersion

START = pd.Timestamp("2026-03-01T00:00:00Z")


class Scores:
    """A stand-in model whose probability for a row is a fixed score looked up by the row's index."""

    def __init__(self, scores: pd.Series):
        self.scores = scores

    def predict_proba(self, X):
        p = self.scores.loc[X.index].to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


def click_rows(n: int = 5000, seed: int = 0, days: int = 5) -> pd.DataFrame:
    """Recommendation impressions over `days` days with a known click model (position, popularity,
    price, segment x device effects), in time order, timestamps UTC."""
    rng = np.random.default_rng(seed)
    ts = START + pd.to_timedelta(np.sort(rng.integers(0, days * 86_400_000, n)), unit="ms")
    frame = pd.DataFrame({
        "timestamp": ts,
        "position": rng.integers(1, 11, n).astype("int32"),
        "item_popularity": rng.random(n),
        "price": np.round(rng.lognormal(3.0, 0.8, n), 2),
        "category": rng.choice(["books", "electronics", "fashion", "home"], n),
        "user_segment": rng.choice(["new", "regular", "loyal"], n, p=[0.3, 0.5, 0.2]),
        "device": rng.choice(["ios", "android", "web"], n),
        "country": rng.choice(["DE", "US", "FR"], n),
    })
    logit = (-0.5 - 0.35 * frame["position"] + 2.2 * frame["item_popularity"] - 0.4 * np.log(frame["price"] / 20)
             + frame["user_segment"].map({"new": -0.6, "regular": 0.0, "loyal": 0.9})
             + frame["device"].map({"ios": 0.3, "android": 0.0, "web": -0.3}))
    frame["clicked"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int8")
    return frame


def shuffled_labels(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Same rows with the target permuted: a model trained on it is no better than chance."""
    out = frame.copy()
    out["clicked"] = np.random.default_rng(seed).permutation(out["clicked"].to_numpy())
    return out


def lineage_for(frame: pd.DataFrame) -> dict:
    return {"window": [str(frame["timestamp"].min()), str(frame["timestamp"].max())],
            "excluded": {"incident_window": 17, "missing_target": 3}, "incident_ids": ["inc-1"],
            "created_at": "2026-03-06T00:00:00+00:00"}


def store_dataset(store: DatasetStore, spec: ModelSpec, frame: pd.DataFrame) -> DatasetVersion:
    return store.write(spec.name, frame, lineage_for(frame))


@contextlib.contextmanager
def mlflow_store(root: Path, tracking_uri: str | None = None) -> Iterator:
    """A client on a fresh store under `root` (SQLite unless a URI is given); env restored afterwards."""
    from ops_pipelines.lib.mlops.tracking import configure_mlflow

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        uri = tracking_uri or f"sqlite:///{(root / 'mlflow.db').as_posix()}"
        yield configure_mlflow(uri, root / "artifacts")


def specs() -> tuple[ModelSpec, ModelSpec]:
    return model_spec("ctr_logreg"), model_spec("ctr_gbdt")
