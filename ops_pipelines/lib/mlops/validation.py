"""Data gates for training sets: a Great Expectations suite per source asset plus two checks GX cannot do.

Suites are GX's own suite JSON in `assets/mlops/expectations/<source>.json` (so they load into an
`ExpectationSuite` and dump back unchanged). The row-count floor is the suite parameter
`{"$PARAMETER": "min_rows"}`, filled from the model's config. GX skips NaN in column checks, so a
NaN burst passes a range check: the non-finite share of every numeric column is checked here, with
limits from the suite's `meta.ops_pipelines.non_finite_max_share`, and so is the schema.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ops_pipelines.lib.mlops.config import SUITES_DIR, ModelSpec

OBSERVED_SAMPLE = 5  # unexpected values quoted per failed expectation


@dataclass(frozen=True)
class ValidationResult:
    passed: bool
    expectations: list[dict[str, Any]]  # type, column, success, unexpected_percent, unexpected_count, observed
    non_finite_share: dict[str, float]
    schema_problems: list[str]
    non_finite_limits: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    suite: str = ""

    def failures(self) -> list[str]:
        """One readable line per failed check."""
        out = list(self.schema_problems)
        for e in self.expectations:
            if e["success"]:
                continue
            where = f"({e['column']})" if e["column"] else ""
            if e.get("error"):
                out.append(f"{e['type']}{where}: could not run: {e['error']}")
            elif e["unexpected_count"] is not None:
                out.append(f"{e['type']}{where}: {e['unexpected_count']} unexpected rows "
                           f"({e['unexpected_percent']:.3g}%), e.g. {e['observed']}")
            else:
                out.append(f"{e['type']}{where}: observed {e['observed']}")
        for col, share in self.non_finite_share.items():
            limit = self.non_finite_limits.get(col, 0.0)
            if share > limit:
                out.append(f"non-finite values in {col}: {share:.4%} of rows (allowed {limit:.4%})")
        return out

    def to_metadata(self) -> dict[str, float | int | str | bool]:
        """Flat numbers and text for Dagster check metadata."""
        failed = [e for e in self.expectations if not e["success"]]
        meta: dict[str, float | int | str | bool] = {
            "passed": self.passed,
            "suite": self.suite,
            "rows": self.rows,
            "expectations_evaluated": len(self.expectations),
            "expectations_failed": len(failed),
            "schema_problems": len(self.schema_problems),
        }
        for col, share in self.non_finite_share.items():
            meta[f"non_finite_share.{col}"] = float(share)
        for e in failed:
            key = f"{e['type']}.{e['column']}" if e["column"] else e["type"]
            meta[f"unexpected_percent.{key}"] = float(e["unexpected_percent"] or 0.0)
        failures = self.failures()
        if failures:
            meta["failures"] = "\n".join(failures)
        return meta


def suite_path(source: str) -> Path:
    return SUITES_DIR / f"{source}.json"


def read_suite(path: Path | str) -> dict[str, Any]:
    """The suite file as a dict; a clear error naming the file when it is not a GX suite."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no expectation suite at {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    items = raw.get("expectations") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not all(isinstance(e, dict) and "type" in e and "kwargs" in e for e in items):
        raise ValueError(f"{path}: expected {{'name', 'expectations': [{{'type', 'kwargs', 'meta'}}], 'meta'}}")
    return raw


def load_suite(path: Path | str):
    """The suite file as a `great_expectations.core.ExpectationSuite` (imports GX: ~10 s the first time)."""
    from great_expectations.core import ExpectationSuite

    raw = read_suite(path)
    return ExpectationSuite(name=raw.get("name") or Path(path).stem, expectations=raw["expectations"],
                            meta=raw.get("meta") or {})


def non_finite_limits(raw_suite: dict[str, Any], columns: list[str]) -> dict[str, float]:
    conf = ((raw_suite.get("meta") or {}).get("ops_pipelines") or {}).get("non_finite_max_share") or {}
    default = float(conf.get("default", 0.0))
    per_column = conf.get("columns") or {}
    return {c: float(per_column.get(c, default)) for c in columns}


def validate_dataset(frame: pd.DataFrame, spec: ModelSpec, *, min_rows: int | None = None,
                     suite_file: Path | str | None = None) -> ValidationResult:
    """Run the source's suite, the non-finite checks and the schema check on `frame`."""
    path = Path(suite_file) if suite_file is not None else suite_path(spec.source)
    raw = read_suite(path)
    floor = spec.training.min_rows if min_rows is None else int(min_rows)
    frame = frame.reset_index(drop=True)
    # every number the model or its drift report reads
    numeric = [c for c in dict.fromkeys([*spec.numeric, *spec.drift_columns, spec.target]) if c in frame.columns
               and c not in spec.categorical and pd.api.types.is_numeric_dtype(frame[c])]
    shares = {c: non_finite_share(frame[c]) for c in numeric}
    limits = non_finite_limits(raw, numeric)
    expectations = _run_gx(frame, path, floor)
    problems = schema_problems(frame, spec)
    passed = (not problems and all(e["success"] for e in expectations)
              and all(shares[c] <= limits[c] for c in numeric))
    return ValidationResult(passed, expectations, shares, problems, limits, len(frame), str(raw.get("name") or path.stem))


def non_finite_share(values: pd.Series) -> float:
    """Share of NaN, None and +-inf values (0.0 for an empty column)."""
    if len(values) == 0:
        return 0.0
    as_float = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return float(np.count_nonzero(~np.isfinite(as_float)) / len(as_float))


def schema_problems(frame: pd.DataFrame, spec: ModelSpec) -> list[str]:
    """Missing columns and wrong dtype kinds (extra columns are fine: raw partitions carry ids)."""
    problems = []
    expected = {spec.time_column: "datetime", spec.target: "number",
                **{c: "number" for c in spec.numeric}, **{c: "text" for c in spec.categorical}}
    for col, kind in expected.items():
        if col not in frame.columns:
            problems.append(f"missing column {col!r} (expected {kind})")
            continue
        dtype = frame[col].dtype
        if kind == "datetime":
            if not isinstance(dtype, pd.DatetimeTZDtype):
                problems.append(f"column {col!r} must be tz-aware UTC datetimes, found {dtype}")
            elif str(dtype.tz) != "UTC":
                problems.append(f"column {col!r} must be in UTC, found {dtype.tz}")
        elif kind == "number" and not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            problems.append(f"column {col!r} must be numeric, found {dtype}")
        elif kind == "text" and not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
                                     or isinstance(dtype, pd.CategoricalDtype)):
            problems.append(f"column {col!r} must be text or categorical, found {dtype}")
    return problems


@functools.lru_cache(maxsize=1)
def _batch_definition():
    """One ephemeral GX context per process (it writes nothing); progress bars off for logs."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx.data_sources.add_pandas("ops_pipelines").add_dataframe_asset("frame").add_batch_definition_whole_dataframe("all")


@functools.lru_cache(maxsize=8)
def _cached_suite(path: str, mtime_ns: int):
    return load_suite(path)


def _run_gx(frame: pd.DataFrame, path: Path, min_rows: int) -> list[dict[str, Any]]:
    suite = _cached_suite(str(path.resolve()), path.stat().st_mtime_ns)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, expectation_parameters={"min_rows": min_rows})
    return [_summary(r) for r in result.results]


def _summary(r) -> dict[str, Any]:
    cfg = r.expectation_config
    res = r.result or {}
    columns = cfg.kwargs.get("column") or cfg.kwargs.get("column_list")
    if "observed_value" in res:
        observed = res["observed_value"]
    elif "partial_unexpected_list" in res:
        observed = res["partial_unexpected_list"][:OBSERVED_SAMPLE]
    else:
        observed = None
    error = (r.exception_info or {}).get("exception_message") if (r.exception_info or {}).get("raised_exception") else None
    return {
        "type": cfg.type,
        "column": ",".join(columns) if isinstance(columns, list) else (columns or ""),
        "success": bool(r.success),
        "unexpected_percent": None if res.get("unexpected_percent") is None else float(res["unexpected_percent"]),
        "unexpected_count": None if res.get("unexpected_count") is None else int(res["unexpected_count"]),
        "observed": _plain(observed),
        "error": error,
    }


def _plain(value: Any) -> Any:
    """numpy scalars and timestamps -> JSON-able Python values."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    return value
