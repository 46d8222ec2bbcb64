"""Schema-driven validation shared by all ingestion kinds: typed columns or a quarantine row.

Rules (documented in docs/ingestion.md):
- the first failing field of a row decides its reason, checked in schema order;
- exact duplicate rows (same key, same values) are kept once and counted, not quarantined;
- rows that share a key but disagree on any value are ALL quarantined as `conflicting_duplicate`,
  because nothing tells us which producer is right and a gap is safer than a wrong value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ops_pipelines.lib.ingest.fields import (
    Reasons,
    parse_numbers,
    parse_string_list,
    parse_text,
    parse_timestamps,
)
from ops_pipelines.lib.ingest.formats import DEFAULT_MAX_ABS_VALUE
from ops_pipelines.lib.ingest.quarantine import (
    CODE,
    REASON_OF_CODE,
    Reason,
    concat_quarantine,
    quarantine_frame,
    raw_text,
)

ACCOUNT_COLUMNS = ["source_file", "rows_read", "rows_stored", "rows_quarantined", "exact_duplicates", "problem"]


@dataclass(frozen=True)
class Schema:
    """Columns of one ingestion kind, in the order they are checked."""

    key: tuple[str, ...]
    required_text: tuple[str, ...] = ()
    optional_text: tuple[str, ...] = ()
    required_numbers: tuple[str, ...] = ()
    optional_numbers: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    passthrough: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    keep_extra: bool = False  # pass other columns (e.g. model features) through unchanged
    sort: tuple[str, ...] = ("timestamp",)
    timestamp: str = "timestamp"

    @property
    def columns(self) -> list[str]:
        cols = [self.timestamp, *self.required_text, *self.optional_text, *self.required_numbers]
        return cols + [*self.optional_numbers, *self.lists, *self.passthrough]


@dataclass(frozen=True)
class Window:
    """The half-open UTC interval [start, end) of one partition, and the clock for future checks."""

    start: pd.Timestamp
    end: pd.Timestamp
    now: pd.Timestamp
    future_tolerance: pd.Timedelta = pd.Timedelta(minutes=5)

    @classmethod
    def for_day(cls, day: str, now: pd.Timestamp | None = None) -> Window:
        start = pd.Timestamp(day, tz="UTC")
        return cls(start, start + pd.Timedelta(days=1), now if now is not None else pd.Timestamp.now(tz="UTC"))


@dataclass
class FileError:
    path: str
    problem: str


def empty_accounts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("source_file", "problem") else np.int64) for c in ACCOUNT_COLUMNS})


@dataclass
class IngestResult:
    """Clean rows, quarantined rows and whole-file failures of one partition.

    `accounts` has one row per file: rows read (counted by the reader, or the line count of a file
    that could not be read), and where they went: stored, quarantined, dropped as exact duplicates.
    """

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    file_errors: list[FileError] = field(default_factory=list)
    exact_duplicates: int = 0
    files_read: int = 0
    accounts: pd.DataFrame = field(default_factory=empty_accounts)

    @property
    def quarantined_rows(self) -> int:
        """Quarantined rows, counting each unreadable file as its line count (at least one if unknown)."""
        return int(self.accounts["rows_quarantined"].sum())

    @property
    def rows_read(self) -> int:
        return int(self.accounts["rows_read"].sum())

    @property
    def rows_seen(self) -> int:
        """Rows by outcome: stored + quarantined + exact duplicates (equals rows_read when accounted)."""
        return len(self.rows) + self.quarantined_rows + self.exact_duplicates

    @property
    def quarantine_share(self) -> float:
        return self.quarantined_rows / self.rows_seen if self.rows_seen else 0.0

    def unaccounted(self) -> pd.DataFrame:
        """Files whose rows read differ from stored + quarantined + exact duplicates (should be none)."""
        a = self.accounts
        return a[a["rows_read"] != a["rows_stored"] + a["rows_quarantined"] + a["exact_duplicates"]]

    @property
    def accounted_for(self) -> bool:
        totals_match = int(self.accounts["rows_stored"].sum()) == len(self.rows)
        return self.unaccounted().empty and totals_match and self.rows_read == self.rows_seen


def validate_rows(
    raw: pd.DataFrame,
    schema: Schema,
    source: str,
    naive_timezone: str | None,
    max_abs_value: float = DEFAULT_MAX_ABS_VALUE,
    keep: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type one file's rows (`_line` column = source line); return (clean rows, quarantine).

    Numbers beyond +-`max_abs_value` are `out_of_range`: they never reach a detector's state.
    `keep` (a row mask) validates only those rows, as a service shard does (lib/ingest/shards.py).
    """
    for name in schema.columns:
        if name not in raw.columns:
            raw[name] = None
    # Over the whole file even for a shard: a timestamp column's dominant epoch unit is the file's.
    stamps, stamp_reasons = parse_timestamps(raw[schema.timestamp], naive_timezone)
    if keep is not None:
        raw, stamps, stamp_reasons = raw[keep], stamps[keep], stamp_reasons[keep]
    n = len(raw)
    reasons = np.zeros(n, dtype=np.uint8)
    fields = list(schema.columns)
    failed_field = np.zeros(n, dtype=np.uint8)  # index in `fields` (not the name itself: 8 bytes a row)
    out: dict[str, object] = {}

    def record(name: str, field_reasons: Reasons) -> None:
        if not field_reasons.any():
            return
        new = (reasons == 0) & (field_reasons != 0)
        reasons[new] = field_reasons[new]
        failed_field[new] = fields.index(name)

    out[schema.timestamp] = stamps
    record(schema.timestamp, stamp_reasons)
    for name in schema.required_text + schema.optional_text:
        out[name], r = parse_text(raw[name], required=name in schema.required_text)
        record(name, r)
    for name in schema.required_numbers + schema.optional_numbers:
        values, r = parse_numbers(raw[name])
        if name in schema.optional_numbers:
            r = np.where(r == CODE[Reason.MISSING_FIELD], 0, r)
        if name in schema.non_negative:
            r = np.where((r == 0) & (values < 0), CODE[Reason.WRONG_TYPE], r)
        r = np.where((r == 0) & (np.abs(values) > max_abs_value), CODE[Reason.OUT_OF_RANGE], r)
        out[name] = values
        record(name, r)
    for name in schema.lists:
        out[name], r = parse_string_list(raw[name])
        record(name, r)
    extra = [c for c in raw.columns if c not in schema.columns and not c.startswith("_")] if schema.keep_extra else []
    for name in [*schema.passthrough, *extra]:
        out[name] = raw[name]
    out["_line"] = raw["_line"].astype("float64").to_numpy()  # NaN where a line does not apply (JSON documents)
    bad = reasons != 0
    any_bad = bool(bad.any())

    def kept(col) -> object:
        """The column's array, cut down to the good rows (one column at a time: a day's rows are GBs)."""
        array = col.array if isinstance(col, pd.Series) else col
        return array[~bad] if any_bad else array

    clean = pd.DataFrame({name: kept(out.pop(name)) for name in list(out)},
                         index=raw.index[~bad] if any_bad else raw.index, copy=False)
    if not any_bad:
        return clean, quarantine_frame([], [], [], [], [])
    quarantine = _quarantine_rows(raw[bad], source, [REASON_OF_CODE[c] for c in reasons[bad]],
                                  np.asarray(fields, dtype=object)[failed_field[bad]], max_abs_value)
    return clean, quarantine


def _quarantine_rows(rows: pd.DataFrame, source: str, reasons: list[Reason], fields: np.ndarray, max_abs_value: float) -> pd.DataFrame:
    details = []
    for (_, row), reason, name in zip(rows.iterrows(), reasons, fields):
        value = row.get(name)
        bound = f" (magnitude above {max_abs_value:g}, LandingZone.max_abs_value)" if reason == Reason.OUT_OF_RANGE else ""
        details.append(f"{name}={value!r}: {reason.value}{bound}")
    lines = [None if pd.isna(v) else int(v) for v in rows["_line"]]
    return quarantine_frame(source, lines, [r.value for r in reasons], details, raw_text(rows))


def finalize(
    parts: list[tuple[str, pd.DataFrame]],
    quarantines: list[pd.DataFrame],
    schema: Schema,
    window: Window,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], dict[str, int]]:
    """Merge a partition's files: window and future checks, duplicates, stable sort.

    Returns the rows, the quarantine, and per file the rows stored and the exact duplicates dropped.
    `parts` is emptied once merged, so the files' frames are given back before the sort copies the rows.
    """
    frames = [f for _, f in parts if len(f)]
    sources = [src for src, f in parts if len(f)]
    if not frames:
        return empty_rows(schema), concat_quarantine(quarantines), {}, {}
    sizes = [len(f) for f in frames]
    rows = _concat(frames, schema)
    parts.clear()
    del frames
    rows["_source"] = pd.Categorical.from_codes(np.repeat(np.arange(len(sizes)), sizes), categories=sources)
    ts = rows[schema.timestamp]
    future = (ts > window.now + window.future_tolerance).to_numpy()
    outside = ~future & ((ts < window.start) | (ts >= window.end)).to_numpy()
    extra = [
        _window_quarantine(rows[future], Reason.FUTURE_TIMESTAMP, f"after now ({window.now.isoformat()})", schema),
        _window_quarantine(rows[outside], Reason.OUTSIDE_PARTITION, f"outside [{window.start.isoformat()}, {window.end.isoformat()})", schema),
    ]
    if future.any() or outside.any():
        rows = rows[~(future | outside)]
    rows, conflicts, duplicates = _deduplicate(rows, schema)
    extra.append(conflicts)
    if not rows.attrs.get("sorted"):
        order = np.lexsort([_codes(rows[c], ordered=True) for c in reversed((*schema.sort, "_source", "_line"))])
        rows = rows.iloc[order]
    stored = _counts(rows["_source"])
    quarantine = concat_quarantine([*quarantines, *extra])
    if rows.empty:  # one empty partition, however it came about (what the shards of a day join to)
        return empty_rows(schema), quarantine, stored, duplicates
    rows = rows.drop(columns=["_source", "_line"]).reset_index(drop=True)
    rows.attrs.clear()  # our sort marker: not part of what is stored
    for name in schema.categorical:  # only values stored: categories of dropped rows would differ by shard
        rows[name] = rows[name].cat.remove_unused_categories()
    return rows, quarantine, stored, duplicates


def empty_rows(schema: Schema) -> pd.DataFrame:
    """A partition without rows: the schema's columns, the timestamp typed."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in schema.columns})
    empty[schema.timestamp] = pd.Series(dtype="datetime64[ns, UTC]")
    return empty


def _counts(sources: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sources.value_counts(sort=False).items() if v}


def _concat(frames: list[pd.DataFrame], schema: Schema) -> pd.DataFrame:
    """Concatenate files; categorical columns get one sorted category list (codes sort like values)."""
    for name in schema.categorical:
        if len(frames) == 1:
            col = frames[0][name].astype("category")
            frames[0][name] = col.cat.reorder_categories(sorted(col.cat.categories))
            continue
        cats = union_categoricals([f[name].astype("category") for f in frames], sort_categories=True)
        offset = 0
        for f in frames:
            f[name] = pd.Categorical.from_codes(cats.codes[offset : offset + len(f)], dtype=cats.dtype)
            offset += len(f)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _codes(col: pd.Series, ordered: bool = False) -> np.ndarray:
    """A numeric array with the column's equality (and, if `ordered`, its order), for lexsort."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy()  # categories are sorted by _concat
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return col.array.asi8 if hasattr(col.array, "asi8") else col.to_numpy().view("i8")
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.ArrowDtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return values if ordered else np.where(np.isnan(values), np.nan, values).view(np.int64)
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_extension_array_dtype(dtype):
        return col.to_numpy()
    values = col.astype(object)
    if values.map(lambda v: isinstance(v, (list, dict, np.ndarray))).any():
        values = values.map(lambda v: json.dumps(v.tolist() if isinstance(v, np.ndarray) else v, default=str, sort_keys=True))
    return pd.factorize(values.astype(str).where(values.notna(), None), sort=ordered, use_na_sentinel=True)[0]


def _window_quarantine(rows: pd.DataFrame, reason: Reason, detail: str, schema: Schema) -> pd.DataFrame:
    ts = rows[schema.timestamp].astype(str)
    details = [f"{schema.timestamp}={t}: {detail}" for t in ts]
    lines = [None if pd.isna(v) else int(v) for v in rows["_line"]]
    return quarantine_frame(rows["_source"].astype(str).tolist(), lines, reason.value, details, raw_text(rows))


def _adjacent_equal(codes: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """For rows taken in `order`: is each row equal to the previous one on all `codes`?"""
    same = np.ones(max(len(order) - 1, 0), dtype=bool)
    for c in codes:
        sorted_c = c[order]
        same &= sorted_c[1:] == sorted_c[:-1]
    return same


def _fold(codes: list[np.ndarray]) -> list[np.ndarray]:
    """Merge runs of small non-negative integer codes into one int64 key: fewer lexsort passes."""
    folded: list[np.ndarray] = []
    acc, span = None, 1
    for c in codes:
        small = c.dtype.kind == "i" and c.dtype.itemsize <= 4 and (len(c) == 0 or c.min() >= 0)
        width = int(c.max()) + 1 if small and len(c) else 1
        if small and acc is not None and span * width < 2**62:
            acc, span = acc * width + c, span * width
        elif small:
            if acc is not None:
                folded.append(acc)
            acc, span = c.astype(np.int64), width
        else:
            if acc is not None:
                folded.append(acc)
                acc, span = None, 1
            folded.append(c)
    if acc is not None:
        folded.append(acc)
    return folded


def _deduplicate(rows: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Drop exact repeats (keeping the first by file and line); quarantine conflicting keys.

    Rows arrive in (file, line) order and the sort is stable, so "first" is the earliest row.
    When the output order starts with the whole key (metrics: series, then time) the one sort
    serves both de-duplication and output.
    """
    sort_first = set(schema.sort[: len(schema.key)]) == set(schema.key)
    key_cols = list(schema.sort[: len(schema.key)]) if sort_first else list(schema.key)
    key = _fold([_codes(rows[c], ordered=sort_first) for c in key_cols])
    order = np.lexsort(key[::-1])
    same_key = _adjacent_equal(key, order)
    del key  # given back before the rows are copied in order
    in_group = np.zeros(len(order), dtype=bool)
    in_group[1:] |= same_key
    in_group[:-1] |= same_key
    duplicates: dict[str, int] = {}
    bad = rows.iloc[:0]
    if in_group.any():  # rare: settle repeated keys with pandas on just those rows
        group = rows.iloc[order[in_group]]
        value_cols = [c for c in schema.columns if c not in schema.passthrough + schema.lists]
        comparable = group[value_cols].assign(**{c: group[c].map(lambda v: json.dumps(list(v) if isinstance(v, np.ndarray) else v, default=str)) for c in schema.passthrough + schema.lists})
        exact = comparable.duplicated(keep="first").to_numpy()
        kept = comparable[~exact]
        conflict = np.zeros(len(group), dtype=bool)
        conflict[~exact] = kept.duplicated(subset=list(schema.key), keep=False).to_numpy()
        duplicates = _counts(group["_source"][exact])
        drop = np.zeros(len(order), dtype=bool)
        drop[np.flatnonzero(in_group)[exact | conflict]] = True
        bad = group[conflict].sort_values(["_source", "_line"], kind="stable")
        order = order[~drop]
    out = rows.iloc[order] if sort_first else rows.iloc[np.sort(order)]
    out.attrs["sorted"] = sort_first
    if bad.empty:
        return out, quarantine_frame([], [], [], [], []), duplicates
    key_text = bad[list(schema.key)].astype(str).agg("|".join, axis=1)
    details = [f"key {k} has rows with different values" for k in key_text]
    lines = [None if pd.isna(v) else int(v) for v in bad["_line"]]
    q = quarantine_frame(bad["_source"].astype(str).tolist(), lines, Reason.CONFLICTING_DUPLICATE.value, details, raw_text(bad))
    return out, q, duplicates
