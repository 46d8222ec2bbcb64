"""Recommendation impressions and clicks, with an inventory shift that breaks yesterday's model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .badrows import BadRowLedger, injection_counts, pick_rows
from .clock import MINUTES_PER_DAY, MS_PER_MINUTE, Day, Stream, day_rng, world_rng
from .config import WorldConfig
from .writers import write_parquet

PRICE_REF = 50.0  # EUR; log-price enters the click model relative to this


@dataclass(frozen=True)
class Catalog:
    item_id: np.ndarray
    category: np.ndarray
    price: np.ndarray
    popularity: np.ndarray  # 0..1 score shown to the model (1 = best seller)
    weight: np.ndarray  # impression probability


@dataclass(frozen=True)
class RecsysWorld:
    pre: Catalog
    post: Catalog
    segment: np.ndarray
    device: np.ndarray
    country: np.ndarray


def _ids(prefix: str, numbers: np.ndarray, digits: int) -> np.ndarray:
    return prefix + np.char.zfill(numbers.astype(str), digits).astype(object)


def _pick(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    names = list(table)
    p = np.array([float(table[k]) for k in names])
    return np.array(names, dtype=object)[rng.choice(len(names), n, p=p / p.sum())]


def _items(rng: np.random.Generator, spec: dict[str, Any], n: int, first_id: int) -> tuple[np.ndarray, ...]:
    cats = spec["categories"]
    category = _pick(rng, {k: v[0] for k, v in cats.items()}, n)
    median = np.array([cats[c][1] for c in category]) * float(spec["price_scale"])
    price = np.round(median * np.exp(0.5 * rng.standard_normal(n)), 2)
    ids = _ids("I", first_id + np.arange(n), 5)
    return ids, category, price


def _rank(rng: np.random.Generator, ids: np.ndarray, category: np.ndarray, price: np.ndarray) -> Catalog:
    n = len(ids)
    rank = rng.permutation(n)
    weight = 1.0 / (rank + 20.0) ** 1.05
    return Catalog(ids, category, price, np.round(1.0 - rank / n, 4), weight / weight.sum())


def build_world(cfg: WorldConfig, seed: int) -> RecsysWorld:
    """Users and both catalogs; drawn from world-level streams so every day sees the same shop."""
    spec = cfg.section("recsys")
    rng = world_rng(seed, Stream.CATALOG)
    pre_spec, post_spec = spec["catalog"]["pre"], spec["catalog"]["post"]
    ids, cat, price = _items(rng, pre_spec, int(pre_spec["items"]), 0)
    pre = _rank(rng, ids, cat, price)
    n_post = int(post_spec["items"])
    keep = np.sort(rng.choice(len(ids), round(float(post_spec["keep_share"]) * n_post), replace=False))
    new_ids, new_cat, new_price = _items(rng, post_spec, n_post - len(keep), len(ids))
    post = _rank(rng, np.concatenate([ids[keep], new_ids]), np.concatenate([cat[keep], new_cat]),
                 np.concatenate([price[keep], new_price]))
    users = world_rng(seed, Stream.USERS)
    n_users = int(spec["users"])
    return RecsysWorld(pre, post, _pick(users, spec["segments"], n_users), _pick(users, spec["devices"], n_users),
                       _pick(users, spec["countries"], n_users))


def _lookup(table: dict[str, float], keys: np.ndarray, default: float = 0.0) -> np.ndarray:
    return np.array([float(table.get(k, table.get("*", default))) for k in keys])


def click_logit(model: dict[str, Any], segment: np.ndarray, category: np.ndarray, device: np.ndarray,
                position: np.ndarray, popularity: np.ndarray, price: np.ndarray) -> np.ndarray:
    """The fixed true click model; coefficients per phase come from config."""
    uniq_seg = np.unique(segment.astype(str))
    seg_idx = np.searchsorted(uniq_seg, segment.astype(str))
    by_seg = lambda key: _lookup(model[key], uniq_seg)[seg_idx]
    uniq_cat, cat_idx = np.unique(category.astype(str), return_inverse=True)
    uniq_dev, dev_idx = np.unique(device.astype(str), return_inverse=True)
    return (model["intercept"] + model["position"] * np.log(position) + by_seg("popularity") * popularity
            + by_seg("log_price") * np.log(price / PRICE_REF) + _lookup(model["category"], uniq_cat)[cat_idx]
            + by_seg("segment") + _lookup(model["device"], uniq_dev)[dev_idx])


def segment_shifted(model: dict[str, Any], shift: dict[str, Any] | None, day_index: int) -> dict[str, Any]:
    """The click model with one segment's coefficients replaced from the shift's day on (`recsys.segment_shift`):
    that segment's users start clicking for other reasons, the features stay as they were, so a model's
    quality drops for that segment only. Other segments and earlier days are unchanged."""
    if not shift or day_index < int(shift["day_offset"]):
        return model
    segment = str(shift["segment"])
    return {**model, **{key: {**model[key], segment: float(value)} for key, value in shift["click_model"].items()}}


def simulate_events(cfg: WorldConfig, seed: int, day: Day, world: RecsysWorld) -> dict[str, np.ndarray]:
    spec = cfg.section("recsys")
    rng = day_rng(seed, day.index, Stream.RECSYS)
    shifted = day.index >= cfg.shift_day_offset
    catalog = world.post if shifted else world.pre
    n = int(rng.poisson(float(spec["events_per_weekday"]) * day.load.sum() / _weekday_load(cfg)))
    minute = np.sort(rng.choice(MINUTES_PER_DAY, n, p=day.load / day.load.sum()))
    ts_ms = day.start_ms + minute.astype(np.int64) * MS_PER_MINUTE + rng.integers(0, MS_PER_MINUTE, n)
    user = rng.integers(0, len(world.segment), n)
    item = rng.choice(len(catalog.item_id), n, p=catalog.weight)
    max_pos = int(spec["max_position"])
    pos_p = np.exp(-0.12 * np.arange(max_pos))
    position = 1 + rng.choice(max_pos, n, p=pos_p / pos_p.sum())
    cols = {
        "event_id": _ids(f"ev-{day.date:%Y%m%d}-", np.arange(n), 6),
        "timestamp": np.sort(ts_ms),
        "user_id": _ids("u", user, 6),
        "item_id": catalog.item_id[item], "category": catalog.category[item], "price": catalog.price[item],
        "user_segment": world.segment[user], "device": world.device[user], "country": world.country[user],
        "position": position.astype(np.int32), "item_popularity": catalog.popularity[item],
    }
    model = segment_shifted(spec["click_model"]["post" if shifted else "pre"], spec.get("segment_shift"), day.index)
    logit = click_logit(model, cols["user_segment"], cols["category"], cols["device"], position,
                        cols["item_popularity"], cols["price"])
    cols["clicked"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return cols


def _weekday_load(cfg: WorldConfig) -> float:
    return float(np.mean(cfg.section("seasonality")["hourly_utc"])) * MINUTES_PER_DAY


def write_events(out: Path, cfg: WorldConfig, seed: int, day: Day, cols: dict[str, np.ndarray],
                 ledger: BadRowLedger) -> int:
    """events.parquet with a few spoiled rows (nulls, NaN prices, yesterday's rows, duplicates)."""
    import pyarrow as pa

    rng = day_rng(seed, day.index, Stream.BAD_ROWS, 5)
    n = len(cols["event_id"])
    counts = injection_counts(cfg.section("bad_rows")["model_events"], n, rng)
    picks = pick_rows(rng, n, counts)
    cols = {k: v.copy() for k, v in cols.items()}
    cols["user_id"][picks.get("missing_field", [])] = None
    bad_price = picks.get("non_finite", np.array([], dtype=int))
    cols["price"][bad_price] = np.where(rng.random(len(bad_price)) < 0.5, np.nan, np.inf)
    cols["timestamp"][picks.get("outside_partition", [])] -= MINUTES_PER_DAY * MS_PER_MINUTE
    dup = picks.get("exact_duplicate", np.array([], dtype=int))
    conf = picks.get("conflicting_duplicate", np.array([], dtype=int))
    rows = np.concatenate([np.arange(n), dup, conf])
    cols = {k: v[rows] for k, v in cols.items()}
    cols["clicked"][n + len(dup):] = 1 - cols["clicked"][n + len(dup):]
    # Copies sit right after their original: sort by original row number, stable.
    order = np.argsort(rows, kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    schema = pa.schema([
        ("event_id", pa.string()), ("timestamp", pa.timestamp("ms", tz="UTC")), ("user_id", pa.string()),
        ("item_id", pa.string()), ("category", pa.string()), ("price", pa.float64()),
        ("user_segment", pa.string()), ("device", pa.string()), ("country", pa.string()),
        ("position", pa.int32()), ("item_popularity", pa.float64()), ("clicked", pa.int8()),
    ])
    table = pa.Table.from_arrays([pa.array(cols[f.name], type=f.type) for f in schema], schema=schema)
    rel = f"model_events/{day.iso}/events.parquet"
    write_parquet(out / rel, table)
    bad = {r: len(v) for r, v in picks.items()}
    bad["conflicting_duplicate"] = 2 * len(conf)
    ledger.record(rel, len(rows), bad)
    return len(rows)
