"""Ingestion split by service shard: which rows of a file a shard keeps, and how the shards' results join into
the partition one step stores.

A shard reads every file whole (a file is not split by service), then validates, de-duplicates and sorts only its
services' rows (the service shard of lib/aiops/shards.py, on the name as validation strips it). Rows the reader
could not parse, rows without a service name and files that could not be read are shard 0's. Every validation rule
decides a row from the row itself, or from rows of its key, which share its service; the one exception, a timestamp
column's dominant epoch unit, is taken over the whole file (`validate_rows`). So the join (categories merged, rows
in key order, per-file accounts summed) stores what one step stores, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ops_pipelines.lib.ingest.quarantine import concat_quarantine
from ops_pipelines.lib.ingest.validate import (
    ACCOUNT_COLUMNS,
    FileError,
    IngestResult,
    Schema,
    _codes,
    _concat,
    _fold,
    empty_rows,
)

# What a shard hands on: its rows, its quarantine and its per-file accounts (all a result is built from).
ShardPart = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def rows_in_shard(services: pd.Series | None, n_rows: int, shard: int, shards: int) -> np.ndarray:
    """Per row, whether its service (stripped, as validation reads it) is in `shard`; rows without a service name
    (missing, blank, not text, no such column) are shard 0's."""
    from ops_pipelines.lib.aiops.shards import row_shards

    if services is None:
        return np.full(n_rows, shard == 0)
    return row_shards(services, shards, name=_validated_name) == shard


def _validated_name(value: object) -> str:
    """A raw service value as validation will store it: stripped text, or "" (no name) for anything else."""
    return value.strip() if isinstance(value, str) else ""


def join_shards(parts: Sequence[ShardPart], schema: Schema) -> IngestResult:
    """One partition's result from its shards' parts (shard 0 first)."""
    if set(schema.sort[: len(schema.key)]) != set(schema.key):
        raise ValueError("only a kind stored in key order can be joined from shards (the order is restored by key)")
    accounts = _summed_accounts([p[2] for p in parts])
    errors = [FileError(f, why) for f, why in zip(accounts["source_file"], accounts["problem"]) if why]
    return IngestResult(
        _joined_rows([p[0] for p in parts], schema),
        concat_quarantine(p[1] for p in parts),
        errors,
        int(accounts["exact_duplicates"].sum()),
        files_read=int((accounts["problem"] == "").sum()),
        accounts=accounts,
    )


def _joined_rows(frames: list[pd.DataFrame], schema: Schema) -> pd.DataFrame:
    """The shards' rows merged (categories as one sorted list) and put back in key order; keys are unique after
    de-duplication, so the order is the one step's."""
    full = [f for f in frames if len(f)]
    if not full:
        return empty_rows(schema)
    rows = _concat(full, schema)
    order = np.lexsort(_fold([_codes(rows[c], ordered=True) for c in schema.sort])[::-1])
    return rows.iloc[order].reset_index(drop=True)


def _summed_accounts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per file, the shards' counts summed; a file's problem is shard 0's (the only one that reports it)."""
    full = [f for f in frames if len(f)]
    if not full:  # no files: every shard's (empty) accounts are the one step's
        return frames[0]
    counts = ACCOUNT_COLUMNS[1:5]
    summed = pd.concat(full, ignore_index=True).groupby("source_file", sort=True).agg(
        {**{c: "sum" for c in counts}, "problem": "max"})
    return summed.reset_index()[ACCOUNT_COLUMNS].astype({c: "int64" for c in counts})
