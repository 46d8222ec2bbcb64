"""Independent readers for the sample world's landing zone, used only by the sim tests.

They parse the files the way an ingestion step would (tolerating the injected bad rows), so the
tests check the written data rather than the simulator's internal state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

LEGACY_RE = re.compile(r"^(\S+) (DEBUG|INFO|WARN|ERROR) \[([\w-]+)\] (\S+) (.*)$")


def day_dirs(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in (root / kind).iterdir() if p.is_dir())


def parse_ts(text: pd.Series) -> pd.Series:
    """'YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)' -> UTC timestamps (naive text is read as UTC).

    Parses each distinct string once: a day has few distinct minute stamps but many rows.
    """
    codes, uniques = pd.factorize(text.astype(str))
    uniq = pd.Series(uniques)
    base = pd.to_datetime(uniq.str.replace(r"(Z|[+-]\d\d:\d\d)$", "", regex=True), format="ISO8601", errors="coerce")
    minutes = uniq.str.slice(-6).map(_offset_minutes).astype(int)
    parsed = (base - pd.to_timedelta(minutes, unit="min")).dt.tz_localize("UTC")
    return pd.Series(parsed.array.take(codes), index=text.index)


def _offset_minutes(suffix: str) -> int:
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", suffix)
    if not m:
        return 0
    return (1 if m[1] == "+" else -1) * (int(m[2]) * 60 + int(m[3]))


def load_metrics(root: Path, services: set[str] | None = None) -> pd.DataFrame:
    """Metric points from CSV, late arrivals and Prometheus JSON (optionally only some services).

    Bad rows are dropped the simple way: short/long lines skipped, non-numbers become NaN.
    """
    frames = []
    dtypes = {"timestamp": str, "service": str, "metric": str, "host": str, "value": "float64"}
    for day in day_dirs(root, "metrics"):
        for name in ("metrics.csv", "late-arrivals.csv"):
            df = pd.read_csv(day / name, dtype=dtypes, on_bad_lines="skip", na_values=["n/a"])
            df = df if services is None else df[df["service"].isin(services)]
            frames.append(df.assign(ts=parse_ts(df["timestamp"]), host=df["host"].fillna("")))
        for prom in sorted((day / "prometheus").glob("*.json")):
            if services is not None and prom.stem not in services:
                continue
            for res in json.loads(prom.read_text())["data"]["result"]:
                vals = np.array(res["values"], dtype=object)
                frames.append(pd.DataFrame({
                    "ts": pd.to_datetime(vals[:, 0].astype(float), unit="s", utc=True),
                    "service": res["metric"]["service"], "metric": res["metric"]["__name__"],
                    "value": vals[:, 1].astype(float), "host": res["metric"]["instance"]}))
    df = pd.concat(frames, ignore_index=True).drop(columns="timestamp")
    df = df[np.isfinite(df["value"]) & df["ts"].notna() & df["service"].notna()]
    return df.drop_duplicates(["ts", "service", "metric", "host"])


def load_logs(root: Path) -> pd.DataFrame:
    """JSON-lines and legacy text logs as one frame (unparseable lines skipped)."""
    rows = []
    for day in day_dirs(root, "logs"):
        for line in (day / "services.jsonl").read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if all(k in rec for k in ("timestamp", "service", "level", "message")):
                rows.append((rec["timestamp"], rec["service"], rec.get("host", ""), rec["level"], rec["message"]))
        for path in sorted(day.glob("*.log")):
            for line in path.read_text().splitlines():
                m = LEGACY_RE.match(line)
                if m:
                    rows.append((m[1], m[3], m[4], m[2], m[5]))
    df = pd.DataFrame(rows, columns=["timestamp", "service", "host", "level", "message"])
    df["ts"] = parse_ts(df["timestamp"])
    return df


def load_traces(root: Path) -> list[dict]:
    out = []
    for day in day_dirs(root, "llm_traces"):
        for line in (day / "traces.jsonl").read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def traces_frame(traces: list[dict]) -> pd.DataFrame:
    keep = [t for t in traces if "trace_id" in t and "timestamp" in t and isinstance(t.get("latency_ms"), int)]
    df = pd.DataFrame(keep).drop_duplicates("trace_id")
    df["ts"] = parse_ts(df["timestamp"])
    return df


def load_events(root: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(day / "events.parquet").assign(folder=day.name) for day in day_dirs(root, "model_events")]
    return pd.concat(frames, ignore_index=True)


def ground_truth(root: Path, name: str):
    path = root / "ground_truth" / name
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())
