"""`ops-pipelines datasets` and `ops-pipelines reproduce`: dataset versions and retraining from them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TextIO


def _client(home: Path):
    from ops_pipelines.lib.mlops.registry_store import RegistryLocation, open_registry

    return open_registry(RegistryLocation.of_home(home))


def list_datasets(home: Path, model: str | None, out: TextIO) -> int:
    """Every dataset version (per model, oldest first) with its window, rows, exclusions and validation."""
    from ops_pipelines.lib.mlops.config import load_models
    from ops_pipelines.lib.mlops.datasets import DatasetStore

    store = DatasetStore(home / "datasets")
    names = [model] if model else [spec.name for spec in load_models()]
    found = 0
    for name in names:
        for v in store.list_versions(name):
            found += 1
            lin = v.lineage
            excluded = ", ".join(f"{k} {n}" for k, n in sorted(lin.get("excluded", {}).items())) or "none"
            valid = "passed" if lin.get("validation", {}).get("passed") else "FAILED validation"
            print(f"{name:<14} {v.version}  as of {lin.get('created_at', '?')}  {v.rows:>8,} rows  "
                  f"window {lin.get('window_start', '?')} .. {lin.get('window_end', '?')}  excluded: {excluded}  "
                  f"incidents: {','.join(lin.get('incident_ids', [])) or '-'}  {valid}", file=out)
    if not found:
        print(f"no dataset versions under {store.root}", file=out)
    return 0


def reproduce(home: Path, model: str, version: int, out: TextIO) -> int:
    """Retrain a registered version from its recorded dataset version; 0 when every metric matches."""
    from ops_pipelines.lib.mlops.config import model_spec
    from ops_pipelines.lib.mlops.datasets import DatasetStore
    from ops_pipelines.lib.mlops.reproduce import recorded_metrics, reproduce_training

    spec = model_spec(model)
    client = _client(home)
    recorded = recorded_metrics(client, spec.registered_name, version)
    again = reproduce_training(client, DatasetStore(home / "datasets"), spec, version)
    same = True
    for key in sorted(recorded):
        a, b = recorded[key], again.get(key, math.nan)
        ok = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
        same &= ok
        print(f"{key:<32} recorded {a:.6f}  reproduced {b:.6f}  {'same' if ok else 'DIFFERENT'}", file=out)
    print(f"{spec.registered_name} v{version}: {'reproduced' if same else 'NOT reproduced'}", file=out)
    return 0 if same else 1
