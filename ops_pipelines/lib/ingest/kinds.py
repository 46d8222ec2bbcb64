"""The four ingestion kinds: their schemas and how each accepted file format is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.ingest.csvfile import csv_header, read_csv
from ops_pipelines.lib.ingest.files import UnreadableFileError, base_suffix
from ops_pipelines.lib.ingest.formats import (
    DEFAULT_LOG_PATTERN,
    DEFAULT_MAX_ABS_VALUE,
    DEFAULT_MAX_LINE_BYTES,
    LEVEL_ALIASES,
)
from ops_pipelines.lib.ingest.quarantine import Reason, quarantine_frame
from ops_pipelines.lib.ingest.readers import (
    Rows,
    read_json_document,
    read_jsonl,
    read_parquet,
    read_regex_lines,
)
from ops_pipelines.lib.ingest.validate import Schema

METRICS = Schema(
    key=("timestamp", "service", "metric", "host"),
    required_text=("service", "metric"),
    optional_text=("host",),
    required_numbers=("value",),
    categorical=("service", "metric", "host"),
    sort=("service", "metric", "host", "timestamp"),
)
LOGS = Schema(
    key=("timestamp", "service", "host", "level", "message"),
    required_text=("service", "level", "message"),
    optional_text=("host",),
    categorical=("service", "host", "level"),
    sort=("timestamp", "service", "host"),
)
LLM_TRACES = Schema(
    key=("trace_id",),
    required_text=("trace_id", "app", "model", "prompt_template_id", "prompt_version", "question"),
    optional_text=("answer", "reference_answer", "status"),
    required_numbers=("latency_ms",),
    optional_numbers=("input_tokens", "output_tokens"),
    non_negative=("latency_ms", "input_tokens", "output_tokens"),
    lists=("contexts",),
    sort=("timestamp", "trace_id"),
)
MODEL_EVENTS = Schema(
    key=("event_id",),
    required_text=("event_id", "user_id", "item_id", "category"),
    optional_text=("user_segment", "device", "country"),
    required_numbers=("price", "position"),
    optional_numbers=("item_popularity", "clicked"),
    non_negative=("price", "position"),
    sort=("timestamp", "event_id"),
    keep_extra=True,
)
CHANGES = Schema(
    key=("timestamp", "service", "kind", "detail"),
    required_text=("service", "kind"),
    optional_text=("detail",),
    categorical=("service", "kind"),
    sort=("timestamp", "service", "kind"),
)
# What CD, config and scheduler exports call their change kinds -> ours.
CHANGE_KIND_ALIASES = {
    "deployment": "deploy", "release": "deploy", "rollout": "deploy", "rollback": "deploy",
    "config_change": "config", "configuration": "config", "config-change": "config", "feature_flag": "config", "flag": "config",
    "cron": "job", "batch": "job", "scheduled_job": "job", "backup": "job",
}



@dataclass(frozen=True)
class FormatOptions:
    """How to read what users actually export; defaults match common tools."""

    log_pattern: str = DEFAULT_LOG_PATTERN
    naive_timezone: str | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_abs_value: float = DEFAULT_MAX_ABS_VALUE


def read_metrics_file(path: Path, day_root: Path, options: FormatOptions = FormatOptions()) -> Rows:
    """Long-format CSV/Parquet, single-series `timestamp,value` CSV, or Prometheus query_range JSON."""
    suffix = base_suffix(path)
    if suffix == ".json":
        return read_json_document(path, lambda doc: _prometheus_rows(doc, path))
    if suffix == ".parquet":
        rows, bad = read_parquet(path)
    elif suffix == ".csv":
        header = csv_header(path, options.max_line_bytes)
        if set(header) == {"timestamp", "value"}:
            rows, bad = read_csv(path, ("timestamp",), ("value",), options.max_line_bytes)
            service, metric = single_series_name(path, day_root)
            return rows.assign(service=service, metric=metric, host=""), bad
        rows, bad = read_csv(path, ("timestamp", "service", "metric", "host"), ("value",), options.max_line_bytes)
    else:
        raise UnreadableFileError(path, f"unsupported metrics format {suffix!r} (use .csv, .parquet or .json)")
    missing = {"timestamp", "service", "metric", "value"} - set(rows.columns)
    if missing:
        raise UnreadableFileError(path, f"missing required columns {sorted(missing)}; found {sorted(c for c in rows.columns if c != '_line')}")
    return rows, bad


def single_series_name(path: Path, day_root: Path) -> tuple[str, str]:
    """NAB-style file: the metric is the file name, the service its folder ('default' at the top)."""
    metric = path.name.split(".")[0]
    parent = path.parent
    service = "default" if parent.resolve() == day_root.resolve() else parent.name
    return service, metric


def _prometheus_rows(doc: object, path: Path) -> Rows:
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or data.get("resultType") not in ("matrix", "vector"):
        raise UnreadableFileError(path, "not a Prometheus query_range response (data.resultType matrix/vector)")
    if isinstance(doc, dict) and doc.get("status") not in (None, "success"):
        raise UnreadableFileError(path, f"Prometheus query failed: {doc.get('error', doc.get('status'))}")
    cols: dict[str, list] = {k: [] for k in ("timestamp", "value", "service", "metric", "host")}
    bad = []
    for i, series in enumerate(data.get("result") or []):
        labels = series.get("metric", {}) if isinstance(series, dict) else {}
        samples = series.get("values", [series.get("value")] if "value" in series else []) if isinstance(series, dict) else []
        for j, sample in enumerate(samples):
            if not (isinstance(sample, list) and len(sample) == 2):
                bad.append(f"result[{i}].values[{j}]: expected [time, value], found {sample!r}"[:300])
                continue
            cols["timestamp"].append(sample[0])
            cols["value"].append(sample[1])
            cols["service"].append(labels.get("service", labels.get("job")))
            cols["metric"].append(labels.get("__name__", labels.get("metric")))
            cols["host"].append(labels.get("instance", labels.get("host", "")))
    rows = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()})
    rows["_line"] = pd.array([None] * len(rows), dtype="Int64")
    quarantine = quarantine_frame(str(path), [None] * len(bad), Reason.UNPARSEABLE_ROW.value, bad)
    return rows, quarantine


def read_logs_file(path: Path, options: FormatOptions) -> Rows:
    """JSON Lines (`timestamp, service, host, level, message`) or plain text through the log regex."""
    name = path.name.removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        rows, bad = read_jsonl(path, ["timestamp", "service", "host", "level", "message"], options.max_line_bytes)
    elif name.endswith((".log", ".txt")):
        rows, bad = read_regex_lines(path, options.log_pattern, options.max_line_bytes)
    else:
        raise UnreadableFileError(path, "unsupported log format (use .jsonl or .log/.txt)")
    if "level" in rows:
        level = rows["level"].map(lambda v: v.strip().upper() if isinstance(v, str) else v)
        rows["level"] = level.map(lambda v: LEVEL_ALIASES.get(v, v) if isinstance(v, str) else v)
    return rows, bad


def read_llm_traces_file(path: Path, options: FormatOptions = FormatOptions()) -> Rows:
    """JSON Lines LLM traces; `context` (string or list) is accepted as an alias of `contexts`. A trace
    without either is kept with no contexts (an app without retrieval): scoring gives it no
    groundedness verdict instead of quarantining its cost and latency."""
    rows, bad = read_jsonl(path, [*LLM_TRACES.columns, "context"], options.max_line_bytes)
    rows["contexts"] = rows["contexts"].where(rows["contexts"].notna(), rows["context"])
    rows["contexts"] = rows["contexts"].map(lambda v: [] if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v)
    return rows.drop(columns=["context"]), bad


def read_changes_file(path: Path, options: FormatOptions = FormatOptions()) -> Rows:
    """Change events (`timestamp` or `time`, service, kind, detail) from JSON Lines or CSV.

    Kinds are lower-cased and common names mapped to ours (`deployment` -> `deploy`,
    `config_change` -> `config`, `cron` -> `job`); other kinds are kept as they are.
    """
    name = path.name.removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        rows, bad = read_jsonl(path, ["timestamp", "time", "service", "kind", "detail"], options.max_line_bytes)
    elif base_suffix(path) == ".csv":
        rows, bad = read_csv(path, dictionary_columns=("service", "kind"), max_line_bytes=options.max_line_bytes)
        missing = {"service", "kind"} - set(rows.columns) | ({"timestamp"} if not {"timestamp", "time"} & set(rows.columns) else set())
        if missing:
            raise UnreadableFileError(path, f"missing required columns {sorted(missing)} (timestamp may be called time); "
                                            f"found {sorted(c for c in rows.columns if c != '_line')}")
        for col in ("timestamp", "time", "detail"):
            if col not in rows.columns:
                rows[col] = None
    else:
        raise UnreadableFileError(path, "unsupported changes format (use .jsonl or .csv)")
    rows["timestamp"] = rows["timestamp"].where(rows["timestamp"].notna(), rows["time"])
    kind = rows["kind"].astype(object).map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    rows["kind"] = kind.map(lambda v: CHANGE_KIND_ALIASES.get(v, v) if isinstance(v, str) else v)
    return rows.drop(columns=["time"]), bad


def read_model_events_file(path: Path, options: FormatOptions = FormatOptions()) -> Rows:
    """CSV or Parquet impressions/clicks; extra feature columns are kept as they are."""
    suffix = base_suffix(path)
    if suffix == ".parquet":
        rows, bad = read_parquet(path)
    elif suffix == ".csv":
        rows, bad = read_csv(path, ("timestamp",), max_line_bytes=options.max_line_bytes)
    else:
        raise UnreadableFileError(path, f"unsupported model events format {suffix!r} (use .csv or .parquet)")
    missing = {"event_id", "timestamp"} - set(rows.columns)
    if missing:
        raise UnreadableFileError(path, f"missing required columns {sorted(missing)}")
    return rows, bad
