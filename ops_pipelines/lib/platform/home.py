"""`ops-pipelines init`: the data home's folders and its MLflow registry store, created on purpose.

Runs create nothing that holds history by accident: a registry store appearing out of nowhere is
how a deleted one used to go unnoticed (see `lib/mlops/registry_store.py`). Idempotent.
"""

from __future__ import annotations

from pathlib import Path

from ops_pipelines.lib.mlops.registry_store import RegistryLocation, init_registry

HOME_FOLDERS = ("landing", "storage", "datasets", "reports", "alerts", "logs")


def init_home(home: Path | str, *, new_registry: bool = False, tracking_uri: str | None = None) -> list[str]:
    """Create the home's folders and its registry store (or find them there); one line per store
    saying what was done. RegistryStoreError when the home had a store that is now missing."""
    home = Path(home).resolve()
    lines = []
    for name in HOME_FOLDERS:
        folder = home / name
        lines.append(f"{name + '/':<10} {'exists' if folder.is_dir() else 'created'}")
        folder.mkdir(parents=True, exist_ok=True)
    lines.append(init_registry(RegistryLocation.of_home(home, tracking_uri), new_registry=new_registry))
    return lines
