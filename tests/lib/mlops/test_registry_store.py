"""A data home's MLflow registry store is created only by `init`, and a store the home had that is now
missing, re-created empty or another home's is an error naming it (issue 12, defect 4)."""

import json
import shutil

import pytest

from ops_pipelines.lib.mlops.registry_store import (
    STORES_FILE,
    RegistryLocation,
    RegistryStoreError,
    init_registry,
    open_registry,
    read_marker,
)
from ops_pipelines.lib.mlops.tracking import TRACKING_URI_ENV
from ops_pipelines.lib.platform.home import HOME_FOLDERS, init_home


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv("OPS_MLFLOW_ARTIFACT_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """An empty, migrated MLflow SQLite file: creating one costs seconds, copying it nothing."""
    from ops_pipelines.lib.mlops.tracking import configure_mlflow

    root = tmp_path_factory.mktemp("empty_store")
    configure_mlflow(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts").search_experiments()
    return root / "mlflow.db"


def location(tmp_path, name="home", empty_store=None) -> RegistryLocation:
    """The home's store location; with `empty_store`, an empty store already in place (as a fresh
    MLflow would create it), which `init` marks like one it created itself."""
    loc = RegistryLocation.of_home(tmp_path / name)
    if empty_store is not None:
        loc.sqlite_path.parent.mkdir(parents=True)
        shutil.copyfile(empty_store, loc.sqlite_path)
    return loc


def test_a_fresh_home_is_not_initialised_and_opening_it_creates_nothing(tmp_path):
    loc = location(tmp_path)
    with pytest.raises(RegistryStoreError, match="is not initialised") as err:
        open_registry(loc)
    assert str(loc.sqlite_path) in str(err.value) and "ops-pipelines init" in str(err.value)
    assert not loc.sqlite_path.exists() and not (loc.home / STORES_FILE).exists()


def test_init_creates_the_stores_once_and_is_idempotent(tmp_path):
    loc = location(tmp_path)
    first = init_home(loc.home)
    assert all((loc.home / name).is_dir() for name in HOME_FOLDERS)
    assert first[-1].startswith(f"registry store {loc.sqlite_path}: created (store id ")
    store_id = read_marker(loc.home)["store_id"]
    second = init_home(loc.home)
    assert second[-1] == f"registry store {loc.sqlite_path}: exists (store id {store_id})"
    assert all(line.endswith("exists") for line in second[:-1])
    assert read_marker(loc.home)["store_id"] == store_id
    client = open_registry(loc)
    assert client.search_registered_models() == []


def test_a_deleted_store_is_an_error_until_a_new_registry_is_asked_for(tmp_path):
    loc = location(tmp_path)
    init_home(loc.home)
    old_id = read_marker(loc.home)["store_id"]
    loc.sqlite_path.unlink()
    for attempt in (open_registry, init_registry):
        with pytest.raises(RegistryStoreError, match="does not exist") as err:
            attempt(loc)
        message = str(err.value)
        assert str(loc.sqlite_path) in message and old_id in message and "--new-registry" in message
        assert not loc.sqlite_path.exists()  # nothing was created in its place
    assert "new registry" in init_registry(loc, new_registry=True)
    assert read_marker(loc.home)["store_id"] != old_id
    open_registry(loc)


def test_a_store_re_created_empty_is_an_error(tmp_path, empty_store):
    """What `mlflow ui` (or any MLflow client) does to a deleted SQLite store: creates it empty."""
    loc = location(tmp_path, empty_store=empty_store)
    init_home(loc.home)
    loc.sqlite_path.unlink()
    shutil.copyfile(empty_store, loc.sqlite_path)  # another process creates an empty store at the same path
    with pytest.raises(RegistryStoreError, match="re-created empty or replaced"):
        open_registry(loc)
    with pytest.raises(RegistryStoreError, match="is empty"):
        init_registry(loc)


def test_dataset_versions_without_a_store_are_evidence_of_a_lost_registry(tmp_path):
    loc = location(tmp_path)
    manifest = loc.home / "datasets" / "ctr_logreg" / "0123456789abcdef" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"rows": 1}))
    for attempt in (open_registry, init_registry):
        with pytest.raises(RegistryStoreError, match="1 dataset version"):
            attempt(loc)
    assert not loc.sqlite_path.exists()


def test_a_store_from_before_init_existed_is_adopted_and_a_lost_stores_file_relinked(tmp_path, empty_store):
    from ops_pipelines.lib.mlops.tracking import configure_mlflow

    loc = location(tmp_path, empty_store=empty_store)
    client = configure_mlflow(loc.tracking_uri, loc.artifact_root)
    client.create_run(client.create_experiment("ops_pipelines.ctr_logreg"))  # an old home's history
    with pytest.raises(RegistryStoreError, match="not initialised"):
        open_registry(loc)
    assert "adopted" in init_registry(loc)
    store_id = read_marker(loc.home)["store_id"]
    (loc.home / STORES_FILE).unlink()
    open_registry(loc)  # the store says whose it is
    assert read_marker(loc.home)["store_id"] == store_id


def test_another_homes_store_is_refused(tmp_path, empty_store):
    mine, theirs = location(tmp_path, "mine", empty_store), location(tmp_path, "theirs", empty_store)
    init_home(mine.home)
    init_home(theirs.home)
    wrong = RegistryLocation(mine.home, theirs.tracking_uri, mine.artifact_root)
    with pytest.raises(RegistryStoreError, match="belongs to another data home"):
        open_registry(wrong)


def test_messages_never_show_database_credentials(tmp_path):
    loc = RegistryLocation(tmp_path, "postgresql://ops:Sup3r-Secret@db.example.com:5432/mlflow", tmp_path / "a")
    assert loc.describe() == "postgresql://db.example.com:5432/mlflow"
