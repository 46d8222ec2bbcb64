"""A registered version can be retrained from the dataset version it records, with identical metrics."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ops_pipelines.lib.mlops.datasets import DatasetStore
from ops_pipelines.lib.mlops.reproduce import recorded_metrics, reproduce_training
from ops_pipelines.lib.mlops.selection import split_holdout
from ops_pipelines.lib.mlops.training import train_candidate
from tests.lib.mlops.mlflow_helpers import (
    click_rows,
    mlflow_store,
    specs,
    store_dataset,
)

LOGREG, GBDT = specs()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_reproduce")
    with mlflow_store(root) as client:
        store = DatasetStore(root / "datasets")
        out = {"client": client, "store": store}
        for spec, seed in ((LOGREG, 3), (GBDT, 4)):
            dataset = store_dataset(store, spec, click_rows(5000, seed=seed))
            train, holdout = split_holdout(store.load(spec.name, dataset.version), spec)
            out[spec.name] = (dataset, train_candidate(spec, dataset, train, holdout, client=client))
        yield out


@pytest.mark.parametrize("spec", [LOGREG, GBDT], ids=lambda s: s.name)
def test_retraining_from_the_recorded_dataset_gives_the_recorded_metrics(trained, spec):
    client, store = trained["client"], trained["store"]
    _, candidate = trained[spec.name]
    recorded = recorded_metrics(client, spec.registered_name, candidate.version)
    assert recorded == candidate.metrics and "holdout_roc_auc" in recorded
    assert reproduce_training(client, store, spec, candidate.version) == recorded


def test_a_dataset_changed_on_disk_is_detected(trained):
    client, store = trained["client"], trained["store"]
    dataset, candidate = trained[LOGREG.name]
    frame = store.load(LOGREG.name, dataset.version)
    original = dataset.path.read_bytes()
    frame.loc[0, "clicked"] = 1 - frame.loc[0, "clicked"]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), dataset.path)
    try:
        with pytest.raises(ValueError, match="modified on disk"):
            reproduce_training(client, store, LOGREG, candidate.version)
    finally:
        dataset.path.write_bytes(original)


def test_unknown_dataset_version_fails_clearly(trained):
    client, store = trained["client"], trained["store"]
    _, candidate = trained[GBDT.name]
    client.set_model_version_tag(GBDT.registered_name, str(candidate.version), "ops.dataset_version", "0" * 16)
    try:
        with pytest.raises(KeyError, match="no dataset version"):
            reproduce_training(client, store, GBDT, candidate.version)
    finally:
        client.set_model_version_tag(GBDT.registered_name, str(candidate.version), "ops.dataset_version",
                                     trained[GBDT.name][0].version)


def test_stored_frame_hashes_to_its_version(trained):
    from ops_pipelines.lib.mlops.datasets import content_version

    dataset, _ = trained[LOGREG.name]
    assert content_version(trained["store"].load(LOGREG.name, dataset.version)) == dataset.version
    assert isinstance(trained["store"].load(LOGREG.name, dataset.version), pd.DataFrame)
