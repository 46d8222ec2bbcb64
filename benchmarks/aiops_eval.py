"""AIOps evaluation on the sample world: incident recall/precision, root cause, compression.

Usage: python benchmarks/aiops_eval.py [--days 14] [--seeds 7 11 23]

Simulates each seed, ingests and scores every day's metrics, LLM KPIs and logs in order (state carried as
in the assets), correlates incidents and scores them against ground_truth/incidents.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.lib.aiops.evaluate import score_incidents
from ops_pipelines.lib.aiops.incidents import all_events, build_incidents, load_runbooks
from ops_pipelines.lib.aiops.log_templates import mine_logs
from ops_pipelines.lib.aiops.logs import score_logs
from ops_pipelines.lib.aiops.topology import Topology
from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.llmops.cost import load_prices
from ops_pipelines.lib.llmops.format import load_templates
from ops_pipelines.lib.llmops.kpis import kpi_series
from ops_pipelines.lib.llmops.scores import score_traces
from ops_pipelines.lib.sim import DEFAULT_START, simulate_world
from ops_pipelines.settings import ASSETS_DIR


def evaluate_seed(seed: int, days: int, work: Path) -> dict:
    root = work / f"seed{seed}"
    simulate_world(root, DEFAULT_START, days, seed=seed)
    prices, templates = load_prices(ASSETS_DIR / "llmops" / "prices.json"), load_templates(ASSETS_DIR / "llmops" / "prompt_templates.json")
    state, miner, log_state, scored_days, log_days = None, None, None, [], []
    for i in range(days):
        day = (DEFAULT_START + dt.timedelta(days=i)).isoformat()
        llm = score_traces(ingest_partition("llm_traces", root, day).rows, prices, templates)
        rows = pd.concat([ingest_partition("metrics", root, day).rows, kpi_series(llm)], ignore_index=True)
        scored, state = score_metrics(rows, state)
        mined, miner = mine_logs(ingest_partition("logs", root, day).rows, miner)
        logs, log_state = score_logs(mined, log_state)
        scored_days.append(scored)
        log_days.append(logs)
    scored = pd.concat(scored_days, ignore_index=True)
    logs = pd.concat(log_days, ignore_index=True)
    topology = Topology.load(ASSETS_DIR / "aiops" / "topology.json")
    events = all_events(scored, logs)
    found = build_incidents(events, topology, load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json"))
    truth = json.loads((root / "ground_truth" / "incidents.json").read_text())
    result = score_incidents(found, truth, len(events)).to_dict()
    return {"seed": seed, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ops_aiops_eval_") as work:
        rows = [evaluate_seed(seed, args.days, Path(work)) for seed in args.seeds]
    cols = ["seed", "true_incidents", "detected_incidents", "recall", "precision", "top1", "top3", "anomalous_points", "compression"]
    print(pd.DataFrame(rows)[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
