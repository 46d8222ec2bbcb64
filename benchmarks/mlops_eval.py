"""MLOps evaluation on the sample world, through the daemon exactly as `ops-pipelines demo` runs it.

Usage: python benchmarks/mlops_eval.py [--days 21] [--seed 7] [--home DIR]

Runs the demo (each day's daily_job submitted to the queue, the daemon ticking the retraining
sensor), then reports per click model: the days drift was flagged against the shift day and the
5 days before it; retraining runs per drift event (from the instance's runs and their run keys);
the recovery of the accuracy (ROC-AUC) lost after the shift, on a later labeled window; and the
incident rows the drift retraining excluded, against the simulator's incidents on that day.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import sys
from pathlib import Path

import pandas as pd

LATER_WINDOW_OFFSET = 5  # the later labeled window starts this many days after the shift


def evaluate(home: Path, days: int, seed: int) -> dict:
    os.environ["OPS_PIPELINES_HOME"] = str(home)
    import dagster as dg

    from ops_pipelines import settings
    from ops_pipelines.cli import prepare_embedded_instance
    from ops_pipelines.cli.demo import run_demo
    from ops_pipelines.lib.sim import DEFAULT_START

    prepare_embedded_instance()
    out = io.StringIO()
    code = run_demo(days=days, start=DEFAULT_START, seed=seed, out=out)
    print(out.getvalue())
    world = json.loads((settings.landing_dir() / "ground_truth" / "world.json").read_text())
    shift = pd.Timestamp(world["shift_date"])
    report = {"demo_exit": code, "shift_day": shift.strftime("%Y-%m-%d"), "models": {}}
    storage = settings.storage_dir()
    drift = pd.concat([f for f in (pd.read_parquet(p) for p in sorted((storage / "drift_report").glob("*.parquet"))) if len(f)])
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="retraining_job"))
    for model in ("ctr_logreg", "ctr_gbdt"):
        rows = drift[drift["model"] == model]
        flagged = set(rows.loc[rows["dataset_drift"].astype(bool), "day"])
        before = [(shift - pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(1, 6)]
        mine = [r for r in runs if r.tags.get("dagster/partition/model") == model]
        per_event = collections.Counter(r.tags.get("ops/drift_event") for r in mine if r.tags.get("ops/trigger") != "bootstrap")
        entry = {
            "drift_days": sorted(flagged),
            "drift_on_shift_day": shift.strftime("%Y-%m-%d") in flagged,
            "drift_days_in_5_before": sorted(flagged.intersection(before)),
            "retraining_runs_per_event": dict(per_event),
            "bootstrap_runs": sum(r.tags.get("ops/trigger") == "bootstrap" for r in mine),
        }
        last = pd.Timestamp(world["start"]) + pd.Timedelta(days=days - 1)
        entry.update(recovery(model, shift, last, storage))
        report["models"][model] = entry
    return report


def recovery(model: str, shift: pd.Timestamp, last: pd.Timestamp, storage: Path) -> dict:
    """ROC-AUC of the bootstrap champion before/after the shift, and of the current champion later on."""
    from sklearn.metrics import roc_auc_score

    from ops_pipelines.lib.mlops.config import model_spec
    from ops_pipelines.lib.mlops.monitoring import predict_scores
    from ops_pipelines.lib.mlops.registry import champion_version, load_version
    from ops_pipelines.lib.mlops.tracking import (
        configure_mlflow,
        default_artifact_root,
        default_tracking_uri,
    )
    from ops_pipelines.settings import data_home

    spec = model_spec(model)
    client = configure_mlflow(default_tracking_uri(data_home()), default_artifact_root(data_home()))
    versions = sorted(client.search_model_versions(f"name='{spec.registered_name}'"), key=lambda v: int(v.version))
    if not versions:
        return {"recovery": None, "note": "no model versions"}
    first = versions[0]
    current = champion_version(client, spec.registered_name)

    def window(start: pd.Timestamp, n: int) -> pd.DataFrame:
        names = [(start + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(n)]
        parts = [storage / "model_events" / f"{d}.parquet" for d in names]
        return pd.concat([pd.read_parquet(p) for p in parts if p.exists()], ignore_index=True)

    def auc(version, frame) -> float:
        model_ = load_version(client, spec.registered_name, int(version.version))
        return float(roc_auc_score(frame[spec.target], predict_scores(model_, frame, spec)))

    pre = window(shift - pd.Timedelta(days=5), 5)
    later_start = shift + pd.Timedelta(days=LATER_WINDOW_OFFSET)
    later = window(later_start, (last - later_start).days + 1)
    old_pre, old_post, new_post = auc(first, pre), auc(first, later), auc(current, later)
    lost = old_pre - old_post
    dataset = client.get_model_version(spec.registered_name, current.version).tags.get("ops.dataset_version")
    manifest = json.loads((storage.parent / "datasets" / model / dataset / "manifest.json").read_text()) if dataset else {}
    return {
        "bootstrap_version": int(first.version), "champion_version": int(current.version),
        "later_window": [later_start.strftime("%Y-%m-%d"), f"{len(later):,} rows"],
        "auc_old_champion_pre_shift": round(old_pre, 4), "auc_old_champion_later": round(old_post, 4),
        "auc_new_champion_later": round(new_post, 4),
        "recovered_share_of_loss": round((new_post - old_post) / lost, 3) if lost > 0 else None,
        "champion_dataset_excluded": manifest.get("excluded", {}), "champion_dataset_incidents": manifest.get("incident_ids", []),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=Path(".ops_pipelines_mlops_eval"))
    args = parser.parse_args()
    report = evaluate(args.home.resolve(), args.days, args.seed)
    print(json.dumps(report, indent=1))
    ok = all(m["drift_on_shift_day"] and not m["drift_days_in_5_before"] and (m.get("recovered_share_of_loss") or 0) >= 0.8
             and all(n == 1 for n in m["retraining_runs_per_event"].values()) for m in report["models"].values())
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
