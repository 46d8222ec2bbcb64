"""Metric scoring split by a stable service shard: which shard a service is in, and how shard results join up.

A service's shard is CRC-32 of its UTF-8 name modulo the shard count (not Python's `hash`, which is salted per
process): every process on every machine puts a service in the same shard. The detector keeps its state per
series and series never interact (detector.py), so scoring shard by shard and joining the results gives the
same floats, and the same state file, as scoring everything at once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.detector import DetectorState

SCORES = "anomaly_score"  # the scores' member in a shard's result; the rest are the state's arrays
KEYS = "keys"
SHARD = "shard"  # (this shard, of how many): results are joined by it, whatever order they arrive in


def shard_of(service: str, shards: int) -> int:
    """The shard of one service name."""
    return zlib.crc32(str(service).encode("utf-8")) % shards


def services_in_shard(services: list[str | None], shard: int, shards: int) -> list[str]:
    """The names among `services` that belong to `shard` (missing names are shard 0's, as in `row_shards`)."""
    return sorted({s for s in services if s is not None and shard_of(s, shards) == shard})


def row_shards(services: pd.Series, shards: int, name: Callable[[object], str] = str) -> np.ndarray:
    """Per row, the shard of its service, hashed as `name(value)` (a row without a service goes to shard 0, where
    scoring reports it; so does a value `name` makes empty, whose CRC-32 is 0)."""
    if isinstance(services.dtype, pd.CategoricalDtype):
        codes, labels = services.cat.codes.to_numpy(), services.cat.categories
    else:
        try:
            codes, labels = pd.factorize(services)
        except TypeError:  # unhashable values (JSON lists or objects): no name either way
            codes, labels = pd.factorize(services.map(lambda v: v if isinstance(v, str) else None))
    table = np.array([shard_of(name(label), shards) for label in labels] + [0], dtype=np.int64)
    return table[codes]  # code -1 (missing) takes the appended 0


def split_rows(rows: pd.DataFrame, shards: int) -> list[pd.DataFrame]:
    """The rows of each shard, in their original order (empty frames for shards without rows)."""
    if shards == 1 or rows.empty:  # an empty day (perhaps without columns: nothing stored) is empty everywhere
        return [rows] * shards
    which = row_shards(rows["service"], shards)
    return [rows[which == s].reset_index(drop=True) for s in range(shards)]


def shard_result(scores: np.ndarray, state: DetectorState, shard: int, shards: int) -> dict[str, np.ndarray]:
    """What a shard hands on: its points' scores (in its rows' order) and its series' state, as plain arrays."""
    return {SCORES: np.asarray(scores, dtype=np.float64), KEYS: np.asarray(state.keys, dtype=np.str_),
            SHARD: np.array([shard, shards], dtype=np.int64), **state.arrays}


def in_shard_order(results: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The results sorted by shard; a ValueError unless they are exactly shards 0..N-1 of one split."""
    ordered = sorted(results, key=lambda r: int(r[SHARD][0]))
    found = [tuple(int(v) for v in r[SHARD]) for r in ordered]
    if found != [(s, len(results)) for s in range(len(results))]:
        raise ValueError(f"shard results {found} are not shards 0..{len(results) - 1} of {len(results)}")
    return ordered


def joined_scores(rows: pd.DataFrame, results: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Every row's score, from the shards' results (one per shard, in shard order) put back in row order."""
    results = in_shard_order(results)
    if len(results) == 1:
        return results[0][SCORES]
    which = row_shards(rows["service"], len(results)) if len(rows) else np.empty(0, dtype=np.int64)
    out = np.full(len(rows), np.nan)
    for s, result in enumerate(results):
        mine = which == s
        if int(mine.sum()) != len(result[SCORES]):
            raise ValueError(f"shard {s} scored {len(result[SCORES])} points but has {int(mine.sum())} rows")
        out[mine] = result[SCORES]
    return out


def joined_state(previous: DetectorState | None, results: list[dict[str, np.ndarray]]) -> DetectorState:
    """Yesterday's state with every series scored today replaced by its shard's state (series absent today
    keep yesterday's), exactly as one `score_metrics` call over all rows leaves it."""
    previous = previous or DetectorState.empty([])
    parts = [r for r in in_shard_order(results) if len(r[KEYS])]
    if not parts:
        return previous
    names = [name for name in parts[0] if name not in (SCORES, KEYS, SHARD)]
    today = DetectorState([str(k) for r in parts for k in r[KEYS]],
                          {name: np.concatenate([r[name] for r in parts]) for name in names})
    return today.merged_into(previous)
