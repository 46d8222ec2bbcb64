"""`ops-pipelines explain`: one row's score and top feature contributions, from the version that serves it.

With `--row` the row is given as JSON and the champion (or `--version`) scores it; with `--event-id` the
prediction log (asset `prediction_log`) names the version that served the event and the day whose source
partition holds its row, and the explanation is recomputed from that version and row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TextIO

LOG_ASSET = "prediction_log"
TOP = 10


class UsageError(Exception):
    """Bad input: printed as one line, exit 2."""


def explain(home: Path, storage: Path, model: str, *, version: int | None = None, row: str | None = None,
            event_id: str | None = None) -> dict[str, Any]:
    """The explanation as a JSON-able dict (fields documented in docs/mlops.md)."""
    from ops_pipelines.lib.mlops.config import model_spec

    if not home.is_dir():
        raise UsageError(f"no data home at {home} (set OPS_PIPELINES_HOME, or run `ops-pipelines demo` first)")
    try:
        spec = model_spec(model)
    except KeyError:
        from ops_pipelines.lib.mlops.config import load_models

        raise UsageError(f"unknown model {model!r}; configured: {', '.join(s.name for s in load_models())}") from None
    frame = _row_frame(row, spec) if row is not None else None
    event = _logged_event(storage, spec, event_id) if event_id is not None else None
    client = _client(home)
    chosen, served_by = _version(client, spec, version, event)
    dataset_version = _dataset_version(client, spec, chosen)
    if event is not None:
        frame = _event_row(storage, spec, event)
    return _explained(home, client, spec, chosen, served_by, dataset_version, frame, event)


def _client(home: Path):
    from ops_pipelines.lib.mlops.registry_store import RegistryLocation, RegistryStoreError, open_registry

    try:
        return open_registry(RegistryLocation.of_home(home))
    except RegistryStoreError as exc:
        raise UsageError(str(exc)) from None


def _row_frame(text: str, spec):
    import pandas as pd

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--row is not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--row must be a JSON object of column: value, got {type(raw).__name__}")
    missing = [c for c in spec.features if c not in raw]
    if missing:
        raise UsageError(f"--row lacks the model's input columns {missing}")
    frame = pd.DataFrame([raw])
    for col in spec.numeric:
        value = raw[col]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UsageError(f"--row column {col!r} must be a number or null, got {value!r}")
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    for col in spec.categorical:
        frame[col] = frame[col].astype(object)
    return frame


def _logged_event(storage: Path, spec, event_id: str) -> dict[str, Any]:
    """The prediction log's row for this model and event id."""
    import pandas as pd

    from ops_pipelines.io.parquet import ParquetLayout

    layout = ParquetLayout(storage)
    days = layout.partitions([LOG_ASSET])
    if not days:
        raise UsageError(f"no prediction log under {storage / LOG_ASSET} (run the daily graph, e.g. `ops-pipelines demo`)")
    filters = [("model", "==", spec.name), ("event_id", "==", event_id)]
    found = [f for f in (pd.read_parquet(layout.path([LOG_ASSET], d), filters=filters) for d in days) if len(f)]
    if not found:
        raise UsageError(f"no logged prediction of {spec.name} with event id {event_id!r} "
                         f"({len(days)} day(s) logged, {days[0]} to {days[-1]})")
    hit = pd.concat(found, ignore_index=True).sort_values(["day", "version"]).iloc[-1]
    return {"event_id": event_id, "day": str(hit["day"]), "timestamp": pd.Timestamp(hit["timestamp"]).isoformat(),
            "served_version": int(hit["version"]), "dataset_version": str(hit["dataset_version"]),
            "logged_score": float(hit["score"])}


def _event_row(storage: Path, spec, event: dict[str, Any]):
    from ops_pipelines.io.parquet import ParquetLayout
    from ops_pipelines.lib.mlops.predictions import find_row

    rows = find_row(ParquetLayout(storage).read([spec.source], [event["day"]]), spec, event["event_id"])
    if rows.empty:
        raise UsageError(f"event {event['event_id']!r} is logged but its row is no longer in {spec.source} "
                         f"partition {event['day']} under {storage}")
    return rows.iloc[[0]]


def _version(client, spec, version: int | None, event: dict[str, Any] | None) -> tuple[int, str]:
    """(version, why it is the one): --version, else the version that served the event, else the champion."""
    from ops_pipelines.lib.mlops.registry import champion_version

    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{spec.registered_name}'"))
    if version is not None:
        if version not in versions:
            known = ", ".join(f"v{v}" for v in versions) or "none registered"
            raise UsageError(f"{spec.name} has no version {version} ({known})")
        return version, "requested"
    if event is not None:
        return event["served_version"], "served the event"
    current = champion_version(client, spec.registered_name)
    if current is None:
        raise UsageError(f"{spec.name} has no champion yet; pass --version ({', '.join(map(str, versions)) or 'none registered'})")
    return int(current.version), "champion"


def _dataset_version(client, spec, version: int) -> str:
    from ops_pipelines.lib.mlops.registry import dataset_version_of

    try:
        return dataset_version_of(client, spec.registered_name, version)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def _explained(home: Path, client, spec, version: int, served_by: str, dataset_version: str, frame,
               event: dict[str, Any] | None) -> dict[str, Any]:
    from ops_pipelines.lib.mlops.datasets import DatasetStore
    from ops_pipelines.lib.mlops.explain import background_rows, explain_row, is_linear
    from ops_pipelines.lib.mlops.registry import load_version

    model = load_version(client, spec.registered_name, version)
    background = None
    if not is_linear(model):
        try:
            background = background_rows(DatasetStore(home / "datasets").load(spec.name, dataset_version), spec)
        except KeyError as exc:
            raise UsageError(f"the dataset version {dataset_version} of {spec.name} v{version} is missing: {exc}") from None
    try:
        found = explain_row(model, frame, spec, background)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {
        "model": spec.name, "registered_model": spec.registered_name, "version": version, "served_by": served_by,
        "dataset_version": dataset_version, "score": found.score, "log_odds": found.log_odds,
        "base_log_odds": found.base, "method": found.method,
        "contributions": [{"feature": f, "value": _json_value(v), "contribution": c} for f, v, c in found.top()],
        "event": event,
    }


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def print_explanation(result: dict[str, Any], out: TextIO, top: int = TOP) -> None:
    print(f"{result['model']} v{result['version']} ({result['served_by']}; dataset version {result['dataset_version']}): "
          f"score {result['score']:.4g}", file=out)
    event = result["event"]
    if event is not None:
        if result["version"] != event["served_version"]:
            note = f" (explained with v{result['version']}, not the version that served it)"
        elif not math.isclose(event["logged_score"], result["score"], rel_tol=0, abs_tol=1e-9):
            note = " (differs: the source partition's row changed since it was scored)"
        else:
            note = ""
        print(f"event {event['event_id']} at {event['timestamp']}: served by v{event['served_version']}, logged score "
              f"{event['logged_score']:.4g}{note}", file=out)
    print(f"log-odds {result['log_odds']:+.4f} = base {result['base_log_odds']:+.4f} + contributions ({result['method']})",
          file=out)
    print(f"top feature contributions (log-odds), {min(top, len(result['contributions']))} of "
          f"{len(result['contributions'])}:", file=out)
    width = max((len(c["feature"]) for c in result["contributions"]), default=0)
    for c in result["contributions"][:top]:
        value = f"{c['value']:.6g}" if isinstance(c["value"], float) else str(c["value"])
        print(f"  {c['feature']:<{width}}  {value:>12}  {c['contribution']:+.4f}", file=out)


def write_json(result: dict[str, Any], path: Path) -> None:
    from ops_pipelines.lib.files import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(result, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
