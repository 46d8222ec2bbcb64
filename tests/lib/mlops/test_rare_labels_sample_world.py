"""incident_risk on the 14-day sample world (seed 7): a defined champion ROC-AUC every day after bootstrap.

The world is simulated, the AIOps chain scores and correlates it day by day as the assets do
(benchmarks/aiops_eval.py), `incident_risk_features` is built per day from the day's and the
previous day's telemetry and the day's incidents as its asset builds it, and the model is run
through the product's bootstrap, daily monitoring, drift retraining and promotion gate
(`replay.replay_model`, the same functions the assets call).
"""

import datetime as dt
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import model_spec
from ops_pipelines.lib.mlops.replay import replay_model
from ops_pipelines.lib.mlops.telemetry_features import incident_risk_features

DAYS = 14  # all of world14 (tests/conftest.py): the default world, seed 7
BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "aiops_eval.py"


def _aiops_eval():
    loader = importlib.util.spec_from_file_location("aiops_eval", BENCHMARK)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def features(world14) -> pd.DataFrame:
    from ops_pipelines.lib.ingest.landing import ingest_partition
    from ops_pipelines.lib.sim import DEFAULT_START

    root = world14.root
    aiops = _aiops_eval()
    scored = aiops.score_days(root, DAYS)
    topology = aiops.Topology.load(aiops.ASSETS_DIR / "aiops" / "topology.json")
    rules = aiops.load_runbooks(aiops.ASSETS_DIR / "aiops" / "runbooks.json")
    patterns = aiops.ChangePatterns.load(aiops.ASSETS_DIR / "aiops" / "change_patterns.json")
    context, frames, metrics_before = None, [], None
    for i, today in enumerate(scored):
        pair = scored[max(i - 1, 0): i + 1]
        joined = {k: pd.concat([d[k] for d in pair], ignore_index=True)
                  for k in ("metrics", "log_anomalies", "logs", "changes")}
        found, context = aiops.correlate_day(today["day"], joined["metrics"], joined["log_anomalies"], joined["logs"],
                                             joined["changes"], topology, rules, patterns, context)
        metrics = ingest_partition("metrics", root, today["day"]).rows
        window = pd.concat([f for f in (metrics_before, metrics) if f is not None], ignore_index=True)
        frames.append(incident_risk_features(window, found.incidents, pd.Timestamp(today["day"], tz="UTC")))
        metrics_before = metrics
    assert [f["timestamp"].min().date() for f in frames] == [DEFAULT_START + dt.timedelta(days=i) for i in range(DAYS)]
    return pd.concat(frames, ignore_index=True)


def test_incident_risk_has_a_defined_roc_auc_on_every_day_after_bootstrap(features):
    spec = model_spec("incident_risk")
    days = features["timestamp"].dt.floor("D")
    positives_per_day = features.groupby(days)[spec.target].sum()
    # The day alone (the old rule) leaves some days without a verdict: that is what the growth fixes.
    assert (positives_per_day.iloc[spec.training.window_days:] < spec.evaluation.min_labels_per_class).any()

    result = replay_model(features, spec, "drift")
    reports = result.reports
    after_bootstrap = [d.strftime("%Y-%m-%d") for d in sorted(days.unique())[spec.training.window_days:]]
    assert [r["day"] for r in reports] == after_bootstrap
    for report in reports:
        window = report["evaluation_window"]
        assert report["performance"] is not None, (report["day"], window)
        assert 0.0 <= report["performance"] <= 1.0
        assert window["enough"] and min(window["labels"].values()) >= spec.evaluation.min_labels_per_class
        assert window["days"] <= spec.evaluation.max_window_days
        assert window["end"] == (pd.Timestamp(report["day"], tz="UTC") + pd.Timedelta(days=1)).isoformat()
