"""Vectorised field parsers that classify every bad value instead of raising.

Each parser returns the parsed values and a reason-code array (0 where the value is fine), so
the caller can quarantine exactly the rows that fail and keep the rest.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ops_pipelines.lib.ingest.quarantine import CODE, Reason

_TZ_SUFFIX = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?|\s?(?:UTC|GMT))$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_NON_FINITE = r"(?i)^[+-]?(?:nan|inf|infinity)$"
# Epoch magnitudes: seconds from 1973 to 5138, then the same span in ms, us and ns. Anything
# else is not a plausible epoch and is reported as unparseable rather than guessed.
_EPOCH_UNITS = (("s", 1e8, 1e11), ("ms", 1e11, 1e14), ("us", 1e14, 1e17), ("ns", 1e17, 1e20))
_NS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}
_MAX_NS = 9.2e18  # nanosecond timestamps end in April 2262; later epochs stay unparseable

Reasons = np.ndarray  # uint8 codes per row: 0 = fine, else quarantine.CODE[reason]


def no_reasons(n: int) -> Reasons:
    return np.zeros(n, dtype=np.uint8)


def _strings_to_arrow(values: pd.Series) -> pa.ChunkedArray | pa.Array:
    if isinstance(values.dtype, pd.ArrowDtype):
        return pc.utf8_trim_whitespace(values.array._pa_array)
    return pc.utf8_trim_whitespace(pa.array(values.astype(object), type=pa.string(), from_pandas=True))


def _parse_number_strings(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, Reasons]:
    """Parse trimmed strings: fast cast when all are valid, per-value classification otherwise."""
    n = len(arr)
    missing = pc.fill_null(pc.equal(arr, ""), True)
    try:
        parsed = pc.cast(pc.if_else(missing, "nan", arr), pa.float64())
        reasons = no_reasons(n)
    except pa.ArrowInvalid:
        filled = pc.fill_null(arr, "")
        ok = pc.match_substring_regex(filled, _NUMBER)
        non_finite = pc.match_substring_regex(filled, _NON_FINITE)
        parsed = pc.cast(pc.if_else(ok, filled, "nan"), pa.float64())
        reasons = np.where(non_finite.to_numpy(zero_copy_only=False), CODE[Reason.NON_FINITE], 0)
        bad = ~ok.to_numpy(zero_copy_only=False) & ~non_finite.to_numpy(zero_copy_only=False)
        reasons = np.where(bad, CODE[Reason.WRONG_TYPE], reasons)
    values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
    reasons = np.where(~np.isfinite(values) & (reasons == 0), CODE[Reason.NON_FINITE], reasons)
    reasons = np.where(missing.to_numpy(zero_copy_only=False), CODE[Reason.MISSING_FIELD], reasons)
    return values, reasons.astype(np.uint8)


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, Reasons]:
    """Floats from numeric, string or mixed (JSON) columns; missing, wrong-type, non-finite flagged."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(len(values), np.nan), np.full(len(values), CODE[Reason.WRONG_TYPE], dtype=np.uint8)
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.ArrowDtype):
        missing = values.isna().to_numpy()
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        reasons = np.where(~np.isfinite(out), CODE[Reason.NON_FINITE], 0)
        return out, np.where(missing, CODE[Reason.MISSING_FIELD], reasons).astype(np.uint8)
    if isinstance(dtype, pd.ArrowDtype):
        return _parse_number_strings(_strings_to_arrow(values))
    # Mixed Python objects (JSON): numbers pass, strings go through the string parser.
    obj = values.astype(object).to_numpy()
    kinds = np.array([_kind(v) for v in obj], dtype=object)
    out = np.full(len(obj), np.nan)
    reasons = no_reasons(len(obj))
    num = kinds == "num"
    out[num] = np.array([float(v) for v in obj[num]], dtype=np.float64)
    reasons[num] = np.where(np.isfinite(out[num]), 0, CODE[Reason.NON_FINITE])
    strs = kinds == "str"
    if strs.any():
        out[strs], reasons[strs] = _parse_number_strings(_strings_to_arrow(pd.Series(obj[strs])))
    reasons[kinds == "missing"] = CODE[Reason.MISSING_FIELD]
    reasons[kinds == "other"] = CODE[Reason.WRONG_TYPE]
    return out, reasons


def _kind(v: object) -> str:
    if v is None or v is pd.NA:
        return "missing"
    if isinstance(v, bool):
        return "other"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def parse_text(values: pd.Series, required: bool) -> tuple[pd.Series, Reasons]:
    """Strings stripped of surrounding blanks; empty means missing (an error when required, "" if not)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        stripped = values.cat.categories.astype(str).str.strip()
        if stripped.is_unique:
            text = values.cat.rename_categories(stripped)
        else:
            text = values.astype(object).str.strip().astype("category")
        missing = text.isna().to_numpy() | (text == "").to_numpy()
        wrong = np.zeros(len(text), dtype=bool)
        if not required and missing.any():
            if "" not in text.cat.categories:
                text = text.cat.add_categories([""])
            text = text.fillna("")
    else:
        obj = values.astype(object)
        is_str = obj.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        text = obj.where(~is_str, obj.astype(str).str.strip())
        missing = obj.isna().to_numpy() | (is_str & (text == "").to_numpy())
        wrong = ~is_str & ~missing
        text = text.where(is_str & ~missing, None if required else "")
    reasons = np.where(wrong, CODE[Reason.WRONG_TYPE], 0).astype(np.uint8)
    if required:
        reasons[missing] = CODE[Reason.MISSING_FIELD]
    return text, reasons


def parse_timestamps(values: pd.Series, naive_timezone: str | None = None) -> tuple[pd.Series, Reasons]:
    """UTC timestamps from ISO 8601 strings, epoch numbers (unit by magnitude) or datetime columns.

    Naive values are an error unless `naive_timezone` says how to read them. In one column, epoch
    values in a unit other than the dominant one are flagged as a seconds/milliseconds mix-up.
    """
    n = len(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _from_datetime_column(values, naive_timezone)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(_hashable(values.astype(object)), use_na_sentinel=True)
    uniq = pd.Series(np.asarray(uniques, dtype=object))
    parsed, reasons, units = _parse_unique_timestamps(uniq, naive_timezone)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
    dominant = _dominant_unit(units, counts)
    mismatch = (units != None) & (units != dominant)  # noqa: E711 (numpy: elementwise, `is not` would not be)
    reasons = np.where(mismatch, CODE[Reason.EPOCH_UNIT_MISMATCH], reasons)
    parsed = parsed.where(~mismatch)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    row_reasons = np.full(n, CODE[Reason.MISSING_FIELD], dtype=np.uint8)
    valid = codes >= 0
    out[valid] = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")[codes[valid]]
    row_reasons[valid] = reasons[codes[valid]]
    return pd.Series(pd.DatetimeIndex(out).tz_localize("UTC"), index=values.index), row_reasons


def _hashable(values: pd.Series) -> pd.Series:
    """JSON lists and objects as their text, so they can be factorized (and fail as timestamps)."""
    nested = values.map(lambda v: isinstance(v, (list, dict)))
    if not nested.any():
        return values
    return values.where(~nested, values[nested].map(lambda v: json.dumps(v, default=str)))


def _from_datetime_column(values: pd.Series, naive_timezone: str | None) -> tuple[pd.Series, Reasons]:
    missing = values.isna().to_numpy()
    if values.dt.tz is not None:
        out = values.dt.tz_convert("UTC")
        reasons = np.where(missing, CODE[Reason.MISSING_FIELD], 0).astype(np.uint8)
    elif naive_timezone:
        out = values.dt.tz_localize(naive_timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        reasons = np.where(out.isna().to_numpy(), CODE[Reason.UNPARSEABLE_TIMESTAMP], 0).astype(np.uint8)
        reasons[missing] = CODE[Reason.MISSING_FIELD]
    else:
        out = values.dt.tz_localize("UTC")
        reasons = np.where(missing, CODE[Reason.MISSING_FIELD], CODE[Reason.NAIVE_TIMESTAMP]).astype(np.uint8)
    return out.astype("datetime64[ns, UTC]"), reasons


def _parse_unique_timestamps(uniq: pd.Series, naive_timezone: str | None) -> tuple[pd.Series, Reasons, np.ndarray]:
    n = len(uniq)
    parsed = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[ns, UTC]")
    reasons = np.full(n, CODE[Reason.UNPARSEABLE_TIMESTAMP], dtype=np.uint8)
    units = np.full(n, None, dtype=object)
    is_str = uniq.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    strs = uniq[is_str].astype(str).str.strip()
    numeric_str = strs.str.fullmatch(_NUMBER)
    epochs = pd.Series(np.nan, index=uniq.index)
    is_num = uniq.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)).to_numpy(dtype=bool)
    epochs[is_num] = uniq[is_num].astype(float)
    epochs[numeric_str[numeric_str].index] = strs[numeric_str].astype(float)
    for unit, low, high in _EPOCH_UNITS:
        hit = (epochs.abs() >= low) & (epochs.abs() < high) & (epochs.abs() * _NS_PER_UNIT[unit] < _MAX_NS)
        if hit.any():
            # coerce: an epoch past 2262 does not fit in nanoseconds; it stays unparseable
            p = pd.to_datetime(epochs[hit], unit=unit, utc=True, errors="coerce")
            parsed[hit] = p
            fits = hit.to_numpy() & parsed.notna().to_numpy()
            reasons[fits] = 0
            units[fits] = unit
    text = strs[~numeric_str]
    if len(text):
        aware = text.str.contains(_TZ_SUFFIX, regex=True)
        if aware.any():
            p = pd.to_datetime(text[aware].str.replace(r"\s?(UTC|GMT)$", "Z", regex=True), format="ISO8601", utc=True, errors="coerce")
            parsed[p.index] = p
            reasons[p.index[p.notna()].to_numpy()] = 0
        naive = text[~aware]
        if len(naive):
            p = pd.to_datetime(naive, format="ISO8601", errors="coerce")
            ok = p.notna()
            if naive_timezone:
                local = p[ok].dt.tz_localize(naive_timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
                parsed[local.index] = local
                reasons[local.index[local.notna()].to_numpy()] = 0
            else:
                reasons[p.index[ok].to_numpy()] = CODE[Reason.NAIVE_TIMESTAMP]
    for idx in np.flatnonzero(~is_str & ~is_num):
        value = uniq.iloc[idx]
        if isinstance(value, dt.datetime):
            ts = pd.Timestamp(value)
            if ts.tzinfo is not None:
                parsed.iloc[idx], reasons[idx] = ts.tz_convert("UTC"), 0
            elif naive_timezone:
                parsed.iloc[idx], reasons[idx] = ts.tz_localize(naive_timezone).tz_convert("UTC"), 0
            else:
                reasons[idx] = CODE[Reason.NAIVE_TIMESTAMP]
    missing = uniq.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
    reasons[missing] = CODE[Reason.MISSING_FIELD]
    return parsed, reasons, units


def _dominant_unit(units: np.ndarray, counts: np.ndarray) -> str | None:
    totals: dict[str, int] = {}
    for unit, count in zip(units, counts):
        if unit is not None:
            totals[unit] = totals.get(unit, 0) + int(count)
    return max(sorted(totals), key=lambda u: totals[u]) if totals else None


def parse_string_list(values: pd.Series) -> tuple[pd.Series, Reasons]:
    """Lists of strings; a single string becomes a one-item list, anything else is wrong-typed."""
    out, reasons = [], no_reasons(len(values))
    for i, v in enumerate(values.astype(object)):
        if isinstance(v, str):
            out.append([v])
        elif isinstance(v, (list, tuple, np.ndarray)) and all(isinstance(x, str) for x in v):
            out.append([str(x) for x in v])
        else:
            out.append([])
            reasons[i] = CODE[Reason.MISSING_FIELD] if v is None else CODE[Reason.WRONG_TYPE]
    return pd.Series(out, index=values.index, dtype=object), reasons
