"""The MLflow registry store of a data home: created on purpose only, never silently re-created.

MLflow creates an empty store wherever its tracking URI points, so a deleted `mlflow.db` came back
empty on the next run: "no champion yet", a new v1, and the old versions' artifacts and dataset
versions orphaned. Now `init_registry` (`ops-pipelines init`) creates the store and records one id
in two places: in the store (experiment MARKER_EXPERIMENT, tag `ops.store_id`) and in the data home
(`stores.json`). `open_registry`, which every run uses, creates nothing: a store that is missing,
empty where the home says one existed, or another home's, is a RegistryStoreError that names the
store and says what to do.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ops_pipelines import keys
from ops_pipelines.lib.files import atomic_write_text

if TYPE_CHECKING:
    from mlflow import MlflowClient

STORES_FILE = "stores.json"  # in the data home, outside mlflow/: deleting the store leaves it behind
MARKER_EXPERIMENT = "ops_pipelines registry marker"  # spaces: no configured model can be named so
STORE_ID_TAG = keys.MLFLOW_STORE_ID
INIT_HINT = "ops-pipelines init"


class RegistryStoreError(RuntimeError):
    """The registry store is missing, was re-created empty, or is not this data home's."""


@dataclass(frozen=True)
class RegistryLocation:
    home: Path
    tracking_uri: str
    artifact_root: Path

    @classmethod
    def of_home(cls, home: Path | str, tracking_uri: str | None = None) -> RegistryLocation:
        """The home's store: `tracking_uri`, else $OPS_MLFLOW_TRACKING_URI, else SQLite under the home."""
        from ops_pipelines.lib.mlops.tracking import default_artifact_root, default_tracking_uri

        home = Path(home).resolve()
        return cls(home, tracking_uri or default_tracking_uri(home), default_artifact_root(home))

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.tracking_uri.removeprefix("sqlite:///")) if self.tracking_uri.startswith("sqlite:///") else None

    def describe(self) -> str:
        """The store for messages: the SQLite file, or scheme://host/database without credentials."""
        if self.sqlite_path is not None:
            return str(self.sqlite_path)
        parts = urlsplit(self.tracking_uri)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def read_marker(home: Path) -> dict | None:
    path = Path(home) / STORES_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("registry")


def _write_marker(loc: RegistryLocation, store_id: str, note: str) -> None:
    record = {"registry": {"store_id": store_id, "store": loc.describe(), "artifact_root": str(loc.artifact_root),
                           "initialised_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "note": note}}
    atomic_write_text(loc.home / STORES_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")


def earlier_use(loc: RegistryLocation) -> list[str]:
    """Signs that this home had a registry store: dataset versions (each registered model version
    was trained on one) and MLflow artifacts."""
    signs = []
    versions = sum(1 for _ in (loc.home / "datasets").glob("*/*/manifest.json"))
    if versions:
        signs.append(f"{versions} dataset version(s) under {loc.home / 'datasets'}")
    if loc.artifact_root.is_dir() and next((p for p in loc.artifact_root.rglob("*") if p.is_file()), None):
        signs.append(f"model artifacts under {loc.artifact_root}")
    return signs


# SQLite file we opened, per tracking URI: (device, inode).
_OPENED: dict[str, tuple[int, int]] = {}


def _forget_open_stores(tracking_uri: str) -> None:
    """Drop MLflow's per-process stores and engines for this URI: opened before their SQLite file was
    deleted or replaced, they keep using the old file, so the next client must open the file anew.
    (MLflow internals, pinned version; if they move, only a long-lived process misses the refresh.)"""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistrySqlStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingSqlStore
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    for registry in (TrackingStoreRegistry, ModelRegistryStoreRegistry):
        cached = getattr(registry, "_get_store_with_resolved_uri", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    for store in (TrackingSqlStore, RegistrySqlStore):
        engine = getattr(store, "_engine_map", {}).pop(tracking_uri, None)
        if engine is not None:
            engine.dispose()


def _connect(loc: RegistryLocation) -> MlflowClient:
    """`configure_mlflow`, opening the SQLite file anew when it is not the file this process opened."""
    from ops_pipelines.lib.mlops.tracking import configure_mlflow

    path = loc.sqlite_path
    if path is not None:
        seen = (path.stat().st_dev, path.stat().st_ino) if path.exists() else None
        if seen is None or _OPENED.get(loc.tracking_uri, seen) != seen:
            _forget_open_stores(loc.tracking_uri)
    client = configure_mlflow(loc.tracking_uri, loc.artifact_root)
    if path is not None:
        client.search_experiments(max_results=1)  # creates the file when it is new
        _OPENED[loc.tracking_uri] = (path.stat().st_dev, path.stat().st_ino)
    return client


def _store_id(client: MlflowClient) -> str | None:
    found = client.get_experiment_by_name(MARKER_EXPERIMENT)
    return found.tags.get(STORE_ID_TAG) if found is not None else None


def _populated(client: MlflowClient) -> bool:
    """True when the store holds a registered model or a run (it is somebody's real store)."""
    if client.search_registered_models(max_results=1):
        return True
    ids = [e.experiment_id for e in client.search_experiments()]
    return bool(ids and client.search_runs(ids, max_results=1))


def _mark(client: MlflowClient, loc: RegistryLocation, note: str) -> str:
    """Put a new store id into the store and the home; returns it."""
    store_id = uuid.uuid4().hex
    client.create_experiment(MARKER_EXPERIMENT, artifact_location=(loc.artifact_root / "_marker").as_uri(),
                             tags={STORE_ID_TAG: store_id, "mlflow.note.content":
                                   f"Marks this store as the registry of the ops_pipelines data home {loc.home}. Do not delete."})
    _write_marker(loc, store_id, note)
    return store_id


def _missing(loc: RegistryLocation, marker: dict | None, signs: list[str], what: str) -> RegistryStoreError:
    """The error for a store that is gone or empty although the home shows it existed."""
    evidence = [f"{STORES_FILE} records store {marker['store_id']} initialised {marker['initialised_at']}"] if marker else []
    return RegistryStoreError(
        f"the MLflow registry store {loc.describe()} {what}, but this data home ({loc.home}) had one: "
        f"{'; '.join(evidence + signs)}. Its model versions, champion and lineage are not in the store "
        f"now: restore it from a backup (or point OPS_MLFLOW_TRACKING_URI at it). To start a new, empty "
        f"registry knowingly (the old versions stay orphaned), run `{INIT_HINT} --new-registry`.")


def _not_initialised(loc: RegistryLocation, what: str) -> RegistryStoreError:
    return RegistryStoreError(
        f"the data home {loc.home} is not initialised: the MLflow registry store {loc.describe()} {what}. "
        f"Run `{INIT_HINT}` (OPS_PIPELINES_HOME={loc.home}) once to create it; nothing creates it implicitly, "
        "so that a deleted store is an error instead of a silent new, empty registry.")


def open_registry(loc: RegistryLocation) -> MlflowClient:
    """A client on the home's registry store, after checking it is the one the home was initialised
    with. Creates nothing (a missing SQLite file is reported before MLflow could create it)."""
    marker = read_marker(loc.home)
    if loc.sqlite_path is not None and not loc.sqlite_path.exists():
        signs = earlier_use(loc)
        if marker or signs:
            raise _missing(loc, marker, signs, "does not exist")
        raise _not_initialised(loc, "does not exist")
    client = _connect(loc)
    store_id = _store_id(client)
    if marker is not None and store_id == marker.get("store_id"):
        return client
    if marker is not None and store_id is not None:
        raise RegistryStoreError(
            f"the MLflow registry store {loc.describe()} belongs to another data home (store id {store_id}; "
            f"{loc.home / STORES_FILE} expects {marker['store_id']}): point OPS_MLFLOW_TRACKING_URI at this home's store")
    if store_id is not None:  # stores.json was lost; the store says whose it is
        _write_marker(loc, store_id, "re-linked from the store's marker")
        return client
    if marker is not None:
        raise _missing(loc, marker, earlier_use(loc), "has no ops_pipelines marker (re-created empty or replaced)")
    raise _not_initialised(loc, "has no ops_pipelines marker")


def init_registry(loc: RegistryLocation, *, new_registry: bool = False) -> str:
    """Create (or adopt) the home's registry store and mark it; idempotent. Refuses to create an
    empty store where the home shows an earlier one existed, unless `new_registry`. Returns what it did."""
    marker = read_marker(loc.home)
    signs = earlier_use(loc)
    if loc.sqlite_path is not None and not loc.sqlite_path.exists():
        if (marker or signs) and not new_registry:
            raise _missing(loc, marker, signs, "does not exist")
    client = _connect(loc)
    store_id = _store_id(client)
    if store_id is not None:
        if marker is not None and marker.get("store_id") != store_id:
            raise RegistryStoreError(
                f"the MLflow registry store {loc.describe()} belongs to another data home (store id {store_id}; "
                f"{loc.home / STORES_FILE} expects {marker['store_id']})")
        if marker is None:
            _write_marker(loc, store_id, "re-linked from the store's marker")
            return f"registry store {loc.describe()}: exists (re-linked, store id {store_id})"
        return f"registry store {loc.describe()}: exists (store id {store_id})"
    if _populated(client):  # a store from before `init` existed: it is the old registry, keep it
        return f"registry store {loc.describe()}: adopted (store id {_mark(client, loc, 'adopted an existing store')})"
    if (marker or signs) and not new_registry:
        raise _missing(loc, marker, signs, "is empty")
    note = "new registry (--new-registry); earlier versions orphaned" if (marker or signs) else "created"
    return f"registry store {loc.describe()}: {note} (store id {_mark(client, loc, note)})"
