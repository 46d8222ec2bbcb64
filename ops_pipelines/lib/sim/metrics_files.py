"""Write a day's metrics as the landing zone expects: long CSV, late arrivals, Prometheus JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .badrows import BadRowLedger, injection_counts, pick_rows, strip_offset
from .clock import MINUTES_PER_DAY, MS_PER_MINUTE, Day, Stream, day_rng, iso_from_ms
from .config import WorldConfig
from .metrics import SeriesSet
from .writers import write_text

CSV_HEADER = "timestamp,service,metric,value,host"


def format_values(values: np.ndarray, fmt: str) -> np.ndarray:
    return np.char.mod(fmt, values).astype(object)


def write_metrics_csv(out: Path, cfg: WorldConfig, seed: int, day: Day, series: SeriesSet,
                      ledger: BadRowLedger) -> dict[str, int]:
    """metrics.csv (with injected bad rows) and late-arrivals.csv (held-back points, shuffled)."""
    fmt = cfg.section("export")["value_format"]
    series = series.select(~np.isin(series.services, cfg.prometheus_services))
    n_series = len(series.services)
    offsets = np.array([cfg.utc_offset_minutes(s) for s in series.services])
    distinct = sorted(set(offsets.tolist()))
    minute_ms = day.start_ms + np.arange(MINUTES_PER_DAY, dtype=np.int64) * MS_PER_MINUTE
    stamps = np.stack([iso_from_ms(minute_ms, off, unit="s") for off in distinct])
    offset_row = np.searchsorted(distinct, offsets)

    # Row order is time first, then series: np.nonzero on the transposed matrix yields exactly that.
    minute, sid = np.nonzero(~np.isnan(series.values.T))
    ts = stamps[offset_row[sid], minute]
    mid = np.array([f",{s},{m}," for s, m in zip(series.services, series.metrics)], dtype=object)[sid]
    tail = np.array(["," + h for h in series.hosts], dtype=object)[sid]
    raw = series.values[sid, minute]
    val = format_values(raw, fmt)
    n = len(ts)

    rng = day_rng(seed, day.index, Stream.BAD_ROWS, 1)
    counts = injection_counts(cfg.section("bad_rows")["metrics_csv"], n, rng)
    late_n = int(round(float(cfg.section("export")["late_arrival_share"]) * n))
    picks = pick_rows(rng, n, {**counts, "late": late_n})
    late = picks.pop("late")
    late_rows = rng.permutation(late)
    late_lines = ts[late_rows] + mid[late_rows] + val[late_rows] + tail[late_rows]

    _spoil_in_place(picks, ts, val, tail, rng, prev_day_ms=day.start_ms - (60 - minute % 60) * MS_PER_MINUTE + 30_000,
                    offsets=offsets[sid])
    dup = picks.get("exact_duplicate", np.array([], dtype=int))
    conf = picks.get("conflicting_duplicate", np.array([], dtype=int))
    conf_val = format_values(raw[conf] * rng.uniform(1.05, 1.3, len(conf)), fmt)

    keep = np.ones(n, dtype=bool)
    keep[late] = False
    rows = np.concatenate([np.flatnonzero(keep), dup, conf])
    values = np.concatenate([val[keep], val[dup], conf_val])
    order = np.argsort(minute[rows] * n_series + sid[rows], kind="stable")
    rows, values = rows[order], values[order]
    lines = ts[rows] + mid[rows] + values + tail[rows]

    folder = f"metrics/{day.iso}"
    write_text(out / folder / "metrics.csv", CSV_HEADER + "\n" + "\n".join(lines.tolist()) + "\n")
    write_text(out / folder / "late-arrivals.csv", CSV_HEADER + "\n" + "".join(line + "\n" for line in late_lines))
    bad = {r: len(v) for r, v in picks.items()}
    bad["conflicting_duplicate"] = 2 * len(conf)
    ledger.record(f"{folder}/metrics.csv", len(lines), bad)
    ledger.record(f"{folder}/late-arrivals.csv", len(late_lines), {})
    return {"metric_rows": len(lines), "late_rows": len(late_lines)}


def _spoil_in_place(picks: dict[str, np.ndarray], ts: np.ndarray, val: np.ndarray, tail: np.ndarray,
                    rng: np.random.Generator, prev_day_ms: np.ndarray, offsets: np.ndarray) -> None:
    """Column-level defects of the CSV rows picked per reason (duplicates are added separately)."""
    for i in picks.get("non_finite", []):
        val[i] = "NaN" if rng.random() < 0.5 else "inf"
    for i in picks.get("wrong_type", []):
        val[i] = "n/a"
    for i in picks.get("missing_field", []):
        val[i] = ""
    for i in picks.get("naive_timestamp", []):
        ts[i] = strip_offset(ts[i])
    for i in picks.get("outside_partition", []):
        # Previous UTC day at hh:mm:30 so it cannot collide with a real minute of that day.
        ts[i] = iso_from_ms(np.array([prev_day_ms[i]]), int(offsets[i]), unit="s")[0]
    for i in picks.get("unparseable_row", []):
        tail[i] = tail[i] + ",eu-west-1"


def write_prometheus(out: Path, cfg: WorldConfig, seed: int, day: Day, series: SeriesSet,
                     ledger: BadRowLedger) -> int:
    """One query_range-style JSON per Prometheus-scraped service; a few samples are 'NaN'."""
    fmt = cfg.section("export")["value_format"]
    rates = cfg.section("bad_rows")["prometheus_json"]
    epoch_s = (day.start_ms / 1000.0 + np.arange(MINUTES_PER_DAY) * 60.0)
    points = 0
    for k, service in enumerate(cfg.prometheus_services):
        mask = series.services == service
        sub = series.select(mask)
        present = ~np.isnan(sub.values)
        n = int(present.sum())
        rng = day_rng(seed, day.index, Stream.BAD_ROWS, 2, k)
        counts = injection_counts(rates, n, rng)
        flat = format_values(sub.values[present], fmt)
        for i in pick_rows(rng, n, counts).get("non_finite", []):
            flat[i] = "NaN"
        result = []
        for metric, host, row in sorted(zip(sub.metrics, sub.hosts, range(len(sub.metrics)))):
            idx = np.flatnonzero(present[row])
            strings = flat[_flat_positions(present, row, idx)]
            result.append({"metric": {"__name__": metric, "service": service, "instance": host},
                           "values": [[t, v] for t, v in zip(epoch_s[idx].tolist(), strings.tolist())]})
        body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        rel = f"metrics/{day.iso}/prometheus/{service}.json"
        write_text(out / rel, json.dumps(body, sort_keys=True) + "\n")
        ledger.record(rel, n, counts)
        points += n
    return points


def _flat_positions(present: np.ndarray, row: int, idx: np.ndarray) -> np.ndarray:
    """Positions of row `row`'s present cells inside the row-major flattened `present` selection."""
    before = int(present[:row].sum())
    return before + np.arange(len(idx))
