"""bad_rows.json counts exactly what is in the files, checked by an independent row classifier."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.sim.badrows import REASONS
from tests.lib.sim import sim_readers as rd

OFFSET = re.compile(r"(?:Z|[+-]\d\d:\d\d)$")
NON_FINITE_TEXT = {"nan", "inf", "-inf", "infinity", "-infinity"}


def _stamp_problem(ts: object, day: str) -> str | None:
    if not isinstance(ts, str) or not ts:
        return "missing_field"
    if not OFFSET.search(ts):
        return "naive_timestamp"
    utc = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.UTC)
    return None if utc.date().isoformat() == day else "outside_partition"


def classify_metrics_csv(path: Path, day: str) -> tuple[int, Counter]:
    lines = pd.Series(path.read_text().splitlines()[1:])
    out = Counter()
    fields = lines.str.count(",") + 1
    out["unparseable_row"] = int((fields != 5).sum())
    p = lines[fields == 5].str.split(",", expand=True)
    p.columns = ["timestamp", "service", "metric", "value", "host"]
    missing = (p["timestamp"] == "") | (p["service"] == "") | (p["metric"] == "") | (p["value"] == "")
    naive = ~missing & ~p["timestamp"].str.contains(OFFSET)
    ts = rd.parse_ts(p["timestamp"])
    outside = ~missing & ~naive & (ts.dt.date.astype(str) != day)
    num = pd.to_numeric(p["value"], errors="coerce")
    literal = p["value"].str.lower().isin(NON_FINITE_TEXT)
    wrong = ~missing & num.isna() & ~literal
    non_finite = ~missing & ~wrong & ~np.isfinite(num)
    good = ~(missing | naive | outside | wrong | non_finite)
    out.update(missing_field=int(missing.sum()), naive_timestamp=int(naive.sum()), outside_partition=int(outside.sum()),
               wrong_type=int(wrong.sum()), non_finite=int(non_finite.sum()))
    g = p[good].assign(ts=ts[good])
    grp = g.groupby(["ts", "service", "metric", "host"])["value"]
    size, distinct = grp.transform("size"), grp.transform("nunique")
    out["conflicting_duplicate"] = int(((size > 1) & (distinct > 1)).sum())
    dup = g[(size > 1) & (distinct == 1)]
    out["exact_duplicate"] = len(dup) - len(dup.drop_duplicates(["ts", "service", "metric", "host"]))
    return len(lines), out


def classify_jsonl(path: Path, day: str, required: tuple[str, ...], numeric: str = "") -> tuple[int, Counter]:
    lines = path.read_text().splitlines()
    out, seen = Counter(), Counter()
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            out["unparseable_row"] += 1
            continue
        if any(k not in rec or rec[k] in ("", None) for k in required):
            out["missing_field"] += 1
            continue
        problem = _stamp_problem(rec["timestamp"], day)
        if problem:
            out[problem] += 1
        elif numeric and isinstance(rec[numeric], str):
            out["wrong_type"] += 1
        elif numeric and not np.isfinite(rec[numeric]):
            out["non_finite"] += 1
        else:
            seen[line] += 1
    out["exact_duplicate"] = sum(n - 1 for n in seen.values())
    return len(lines), out


def classify_legacy(path: Path, day: str) -> tuple[int, Counter]:
    lines = path.read_text().splitlines()
    out = Counter()
    for line in lines:
        m = rd.LEGACY_RE.match(line)
        if not m:
            out["unparseable_row"] += 1
        elif problem := _stamp_problem(m[1], day):
            out[problem] += 1
    return len(lines), out


def classify_events(path: Path, day: str) -> tuple[int, Counter]:
    df = pd.read_parquet(path)
    out = Counter()
    missing = df[["event_id", "user_id", "item_id", "category"]].isna().any(axis=1)
    non_finite = ~missing & ~np.isfinite(df["price"])
    outside = ~missing & ~non_finite & (df["timestamp"].dt.date.astype(str) != day)
    out.update(missing_field=int(missing.sum()), non_finite=int(non_finite.sum()), outside_partition=int(outside.sum()))
    good = df[~(missing | non_finite | outside)]
    dup = good[good.duplicated("event_id", keep=False)]
    distinct = dup.drop_duplicates()
    conflicting = dup["event_id"].isin(distinct.loc[distinct["event_id"].duplicated(keep=False), "event_id"])
    out["conflicting_duplicate"] = int(conflicting.sum())
    exact = dup[~conflicting]
    out["exact_duplicate"] = len(exact) - len(exact.drop_duplicates())
    return len(df), out


def classify(root: Path, rel: str) -> tuple[int, Counter]:
    path, day = root / rel, rel.split("/")[1]
    if rel.endswith("metrics.csv") or rel.endswith("late-arrivals.csv"):
        return classify_metrics_csv(path, day)
    if rel.endswith(".json"):
        values = [v for r in json.loads(path.read_text())["data"]["result"] for _, v in r["values"]]
        return len(values), Counter(non_finite=sum(v == "NaN" for v in values))
    if rel.endswith("services.jsonl"):
        return classify_jsonl(path, day, ("timestamp", "service", "level", "message"))
    if rel.endswith("changes.jsonl"):
        return classify_jsonl(path, day, ("timestamp", "service", "kind", "detail"))
    if rel.endswith(".log"):
        return classify_legacy(path, day)
    if rel.endswith("traces.jsonl"):
        return classify_jsonl(path, day, ("trace_id", "timestamp", "question"), numeric="latency_ms")
    return classify_events(path, day)


def test_bad_row_ledger_matches_every_file(world2):
    ledger = rd.ground_truth(world2.root, "bad_rows.json")
    assert ledger["reasons"] == list(REASONS)
    files = {p.relative_to(world2.root).as_posix() for p in world2.root.rglob("*")
             if p.is_file() and "ground_truth" not in p.parts}
    assert set(ledger["files"]) == files
    for rel, entry in ledger["files"].items():
        rows, found = classify(world2.root, rel)
        assert rows == entry["rows"], rel
        assert {k: v for k, v in found.items() if v} == entry["bad"], rel
        assert sum(entry["bad"].values()) < 0.01 * rows, rel


def test_every_reason_shows_up_in_the_default_world(world14):
    ledger = rd.ground_truth(world14.root, "bad_rows.json")
    assert set(ledger["totals"]) == set(REASONS)
    by_kind = Counter()
    for rel, entry in ledger["files"].items():
        by_kind[rel.split("/")[0]] += sum(entry["bad"].values())
        assert sum(entry["bad"].values()) < 0.01 * max(entry["rows"], 1), rel
    assert all(by_kind[k] > 0 for k in ("metrics", "logs", "llm_traces", "model_events"))
    assert ledger["files"]["metrics/2026-03-05/metrics.csv"]["bad"]["conflicting_duplicate"] % 2 == 0
