"""Log templates and log anomalies on real, labelled logs (Loghub BGL and HDFS), opt-in.

Usage: python benchmarks/log_eval.py --bgl PATH/BGL_first1000.log_structured.csv
                                     --hdfs PATH/HDFS_2k.log_structured.csv [--json OUT]

- Grouping accuracy (Loghub's metric) of the template miner on both files, lines mined in file order.
- BGL line-level alerts, fed as a user would: each half is written to a landing zone as JSON-lines
  files per UTC day (timestamp, service = Component, host = Node, level, message = Content), read by
  the ingestion code, mined and scored day by day. Split in time at line 500:
    "tuned on 1-500, scored on 501-1000": lines 1-500 fed first as history, then 501-1000 scored;
    "tuned on 501-1000, scored on 1-500": 1-500 scored from a cold start (no history from the future).
  Nothing in the detector was chosen on these lines: its numeric settings are the documented defaults
  (the sensitivity grid below shows BGL does not move with them), and the wording rules (dump fields,
  caller errors) are written from what the messages mean (see log_rules.py). The ablation shows each
  rule's effect on each half; a rule counts only if it helps the half it was not read on.
- Next to each figure, the rule "a line is an alert iff its level is FATAL".
Labels: BGL's `Label` "-" is a normal line, anything else an alert.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.log_eval import grouping_accuracy, line_scores, per_level
from ops_pipelines.lib.aiops.log_templates import mine_logs
from ops_pipelines.lib.aiops.logs import LogDetectorParams, score_logs
from ops_pipelines.lib.ingest.landing import ingest_partition

SPLIT = 500  # BGL lines 1..SPLIT are the first half in time
JOIN = ["timestamp", "host", "message"]


def grouping(path: Path) -> dict:
    """Grouping accuracy of the miner on a Loghub structured CSV, lines mined in file order."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    order = pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(raw)), unit="s")
    mined, _ = mine_logs(pd.DataFrame({"timestamp": order, "service": "x", "level": raw["Level"],
                                       "message": raw["Content"]}))
    return {"lines": len(raw), "true_templates": int(raw["EventTemplate"].nunique()),
            "mined_templates": int(mined.lines["template_id"].nunique()),
            "grouping_accuracy": round(grouping_accuracy(raw["EventTemplate"], mined.lines["template_id"]), 4)}


def bgl_lines(path: Path, service: str | None) -> pd.DataFrame:
    """BGL as landing-zone log records (UTC timestamps), with LineId and the alert label."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    micros = pd.to_timedelta(raw["Time"].str.rsplit(".", n=1).str[-1].astype(int), unit="us")
    # `Timestamp` is epoch seconds (UTC); `Time` is the same moment in local time with microseconds.
    ts = pd.to_datetime(raw["Timestamp"].astype(np.int64), unit="s", utc=True) + micros
    return pd.DataFrame({"timestamp": ts, "service": raw["Component"] if service is None else service,
                         "host": raw["Node"], "level": raw["Level"], "message": raw["Content"],
                         "line_id": raw["LineId"].astype(int), "alert": raw["Label"] != "-"})


def write_landing(lines: pd.DataFrame, root: Path) -> list[str]:
    """One JSON-lines file per UTC day under root/logs/<day>/bgl.jsonl; the days, in order."""
    days = lines["timestamp"].dt.strftime("%Y-%m-%d")
    for day, part in lines.groupby(days, sort=True):
        folder = root / "logs" / day
        folder.mkdir(parents=True, exist_ok=True)
        records = part.assign(timestamp=part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        records[["timestamp", "service", "host", "level", "message"]].to_json(
            folder / "bgl.jsonl", orient="records", lines=True, force_ascii=False)
    return sorted(set(days))


def run_days(roots: list[tuple[Path, list[str]]], params: LogDetectorParams) -> list[pd.DataFrame]:
    """Ingest, mine and score day by day (state carried over); the scored rows of each root."""
    miner = state = None
    out = []
    for root, days in roots:
        scored_days = []
        for day in days:
            result = ingest_partition("logs", root, day)
            if len(result.quarantine):
                raise SystemExit(f"{root.name}/{day}: {len(result.quarantine)} rows quarantined; the conversion is wrong")
            mined, miner = mine_logs(result.rows, miner)
            scored, state = score_logs(mined, state, params)
            scored_days.append(scored)
        out.append(pd.concat(scored_days, ignore_index=True))
    return out


def judged(scored: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Scored rows joined back to their labelled lines (every line exactly once)."""
    key = truth.assign(host=truth["host"].astype(str))
    rows = scored.assign(host=scored["host"].astype(str)).merge(key[JOIN + ["line_id", "alert"]], on=JOIN,
                                                               how="inner", validate="one_to_one")
    if len(rows) != len(truth):
        raise SystemExit(f"{len(truth)} labelled lines but {len(rows)} scored rows matched: lines were lost")
    return rows.sort_values("line_id", ignore_index=True)


def direction(scored: pd.DataFrame) -> dict:
    """Product, FATAL rule, per-level breakdown and the rule ablation for one scored half."""
    y = scored["alert"].to_numpy()
    fatal = (scored["level"] == "CRITICAL").to_numpy()  # ingestion reads FATAL as CRITICAL
    caller = scored["reason"].str.contains("caller error").to_numpy()
    dump = (scored["kind"] == "dump_field").to_numpy()
    flagged = scored["is_anomaly"].to_numpy()
    return {
        "product": line_scores(flagged, y),
        "fatal_rule": line_scores(fatal, y),
        "per_level": {"product": per_level(scored["level"], flagged, y), "fatal_rule": per_level(scored["level"], fatal, y)},
        # Each wording rule switched off in turn: what the product would flag without it.
        "ablation": {"without_dump_field_rule": line_scores(flagged | dump, y),
                     "without_caller_error_rule": line_scores(flagged | (caller & fatal), y),
                     "without_both": line_scores(flagged | dump | (caller & fatal), y)},
        "rules_fired": scored.loc[scored["is_anomaly"], "kind"].value_counts().to_dict(),
    }


def bgl(path: Path, work: Path, params: LogDetectorParams = LogDetectorParams(), service: str | None = None) -> dict:
    lines = bgl_lines(path, service)
    first, second = lines[lines["line_id"] <= SPLIT], lines[lines["line_id"] > SPLIT]
    tag = f"{params.window_minutes}-{params.threshold}-{service}"
    roots = {}
    for name, part in (("first", first), ("second", second)):
        root = work / f"bgl-{name}-{tag}"
        roots[name] = (root, write_landing(part, root))
    history_then_second = run_days([roots["first"], roots["second"]], params)[1]
    cold_first = run_days([roots["first"]], params)[0]
    return {
        "tuned_on_1-500_scored_on_501-1000": direction(judged(history_then_second, second)),
        "tuned_on_501-1000_scored_on_1-500": direction(judged(cold_first, first)),
    }


def sensitivity(path: Path, work: Path) -> list[dict]:
    """Product F1 on each half over a grid of the burst settings: BGL does not choose them."""
    rows = []
    for window in (5, 10, 30):
        for threshold in (3.0, 4.0, 6.0):
            result = bgl(path, work, replace(LogDetectorParams(), window_minutes=window, threshold=threshold))
            rows.append({"window_minutes": window, "threshold": threshold,
                         **{k.split("_scored_on_")[1]: v["product"]["f1"] for k, v in result.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bgl", type=Path, required=True, help="BGL_first1000.log_structured.csv (Loghub)")
    parser.add_argument("--hdfs", type=Path, required=True, help="HDFS_2k.log_structured.csv (Loghub)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ops_log_eval_") as tmp:
        work = Path(tmp)
        report = {
            "grouping": {"bgl": grouping(args.bgl), "hdfs": grouping(args.hdfs)},
            "bgl_alerts": bgl(args.bgl, work),
            "bgl_alerts_one_service": bgl(args.bgl, work, service="bgl"),
            "bgl_sensitivity": sensitivity(args.bgl, work),
        }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def print_report(report: dict) -> None:
    print("Template grouping accuracy (Loghub metric; masks and Drain settings not tuned on these files)")
    for name, g in report["grouping"].items():
        print(f"  {name:5s} {g['grouping_accuracy']:.4f}  ({g['lines']} lines, {g['true_templates']} true templates, "
              f"{g['mined_templates']} mined)")
    print("\nBGL line-level alerts (not tuned on either half; history = earlier lines only)")
    cols = ["lines", "alerts", "flagged", "tp", "fp", "fn", "precision", "recall", "f1"]
    for label, key in (("service = Component", "bgl_alerts"), ("one service", "bgl_alerts_one_service")):
        for split, d in report[key].items():
            table = pd.DataFrame({"product": d["product"], "FATAL rule": d["fatal_rule"], **d["ablation"]}).T[cols]
            print(f"\n  [{label}] {split}")
            print("    " + table.to_string().replace("\n", "\n    "))
            if key == "bgl_alerts":
                levels = pd.DataFrame(d["per_level"]["product"]).T[cols]
                print("    per level (product):\n    " + levels.to_string().replace("\n", "\n    "))
    print("\nBGL product F1 over the burst settings (defaults: window 10, threshold 4)")
    print("    " + pd.DataFrame(report["bgl_sensitivity"]).to_string(index=False).replace("\n", "\n    "))


if __name__ == "__main__":
    main()
