"""AIOps evaluation on the sample world: incident recall/precision, root cause, compression.

Usage: python benchmarks/aiops_eval.py [--days 14] [--seeds 7 11 23]

Simulates each seed, ingests and scores every day's metrics, LLM KPIs and logs in order (state carried as
in the assets), then correlates day by day exactly as the `incidents` asset does (yesterday and today,
the context carried over) and scores the incidents against ground_truth/incidents.json. False incidents
are attributed to the simulated phenomenon that explains them (ground_truth/world.json: warm-up, surge,
job, deploy, config, near a true incident, other); annotations are counted by kind.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.aiops.anomalies import score_metrics
from ops_pipelines.lib.aiops.changes import ChangePatterns
from ops_pipelines.lib.aiops.daily import correlate_day, day_changes
from ops_pipelines.lib.aiops.evaluate import FALSE_CAUSES, false_incident_causes, score_incidents
from ops_pipelines.lib.aiops.incidents import all_events, load_runbooks
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

ANNOTATION_KINDS = ("change_impact", "scheduled_job", "recurring", "traffic_event", "warm_up")


def score_days(root: Path, days: int) -> list[dict]:
    """Per day, what the upstream assets would hold: scored metrics, log anomalies, logs, changes."""
    prices, templates = load_prices(ASSETS_DIR / "llmops" / "prices.json"), load_templates(ASSETS_DIR / "llmops" / "prompt_templates.json")
    patterns = ChangePatterns.load(ASSETS_DIR / "aiops" / "change_patterns.json")
    state, miner, log_state, out = None, None, None, []
    for i in range(days):
        day = (DEFAULT_START + dt.timedelta(days=i)).isoformat()
        llm = score_traces(ingest_partition("llm_traces", root, day).rows, prices, templates)
        rows = pd.concat([ingest_partition("metrics", root, day).rows, kpi_series(llm)], ignore_index=True)
        scored, state = score_metrics(rows, state)
        lines = ingest_partition("logs", root, day).rows
        mined, miner = mine_logs(lines, miner)
        logs, log_state = score_logs(mined, log_state)
        changes = day_changes(ingest_partition("changes", root, day).rows, lines, patterns)
        out.append({"day": day, "metrics": scored, "log_anomalies": logs, "logs": lines, "changes": changes})
    return out


def correlate_days(scored: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Incidents and annotations of every day (an incident reported on two days counted once), and
    the number of anomalous points (events) of all days."""
    topology = Topology.load(ASSETS_DIR / "aiops" / "topology.json")
    rules = load_runbooks(ASSETS_DIR / "aiops" / "runbooks.json")
    patterns = ChangePatterns.load(ASSETS_DIR / "aiops" / "change_patterns.json")
    context, found, notes, points = None, [], [], 0
    for i, today in enumerate(scored):
        pair = scored[max(i - 1, 0): i + 1]
        joined = {k: pd.concat([d[k] for d in pair], ignore_index=True) for k in ("metrics", "log_anomalies", "logs", "changes")}
        result, context = correlate_day(today["day"], joined["metrics"], joined["log_anomalies"], joined["logs"],
                                        joined["changes"], topology, rules, patterns, context)
        found.append(result.incidents)
        notes.append(result.annotations)
        points += len(all_events(today["metrics"], today["log_anomalies"]))
    incidents = pd.concat([f for f in found if len(f)], ignore_index=True).drop_duplicates("incident_id", keep="last")
    annotations = pd.concat([n for n in notes if len(n)], ignore_index=True) if any(len(n) for n in notes) else pd.DataFrame(columns=["annotation_id", "kind"])
    return incidents, annotations.drop_duplicates("annotation_id", keep="last"), points


def evaluate_seed(seed: int, days: int, work: Path) -> dict:
    root = work / f"seed{seed}"
    simulate_world(root, DEFAULT_START, days, seed=seed)
    found, notes, points = correlate_days(score_days(root, days))
    truth = json.loads((root / "ground_truth" / "incidents.json").read_text())
    world = json.loads((root / "ground_truth" / "world.json").read_text())
    result = score_incidents(found, truth, points).to_dict()
    causes = collections.Counter(false_incident_causes(found, truth, world))
    kinds = collections.Counter(notes["kind"])
    return {"seed": seed, **result, **{f"fp_{c}": causes.get(c, 0) for c in FALSE_CAUSES},
            **{f"ann_{k}": kinds.get(k, 0) for k in ANNOTATION_KINDS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ops_aiops_eval_") as work:
        rows = [evaluate_seed(seed, args.days, Path(work)) for seed in args.seeds]
    frame = pd.DataFrame(rows)
    cols = ["seed", "true_incidents", "detected_incidents", "recall", "precision", "top1", "top3", "anomalous_points", "compression"]
    print(frame[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print("\nfalse incidents by cause (from the simulator's ground truth):")
    print(frame[["seed", *[f"fp_{c}" for c in FALSE_CAUSES]]].to_string(index=False))
    print("\nannotations by kind (movement explained, not raised):")
    print(frame[["seed", *[f"ann_{k}" for k in ANNOTATION_KINDS]]].to_string(index=False))


if __name__ == "__main__":
    main()
