"""`OPS_PIPELINES_SHARDS` changes how metric ingestion, metric_anomalies and anomaly_rollups are computed, never what the graph looks like: with 4 shards
the code location has the same asset keys, groups, dependencies, checks and jobs as with 1 (the committed
snapshot), and metric_anomalies keeps its partitions, automation condition and self-dependency."""

import json
import subprocess
import sys

import pytest

from tests.defs.test_graph_snapshot import SNAPSHOT, differences

PROBE = """
import json
import dagster as dg
from ops_pipelines.definitions import defs
from tests.defs.test_graph_snapshot import graph_snapshot
spec = next(s for s in defs.resolve_all_asset_specs() if s.key.to_user_string() == "metric_anomalies")
steps = {}
for asset in ("telemetry_metrics", "metric_anomalies", "anomaly_rollups"):
    node_def = defs.resolve_assets_def(asset).node_def
    steps[asset] = sorted(n.name for n in node_def.nodes) if isinstance(node_def, dg.GraphDefinition) else [node_def.name]
print(json.dumps({"snapshot": graph_snapshot(), "partitions": type(spec.partitions_def).__name__,
                  "automation": spec.automation_condition is not None, "steps": steps}))
"""


def probe(shards: str) -> dict:
    import os

    env = {**os.environ, "OPS_PIPELINES_SHARDS": shards}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_four_shards_give_the_graph_of_one():
    one, four = probe("1"), probe("4")
    assert differences(json.loads(SNAPSHOT.read_text()), four["snapshot"]) == []
    assert four["snapshot"] == one["snapshot"]
    assert four["partitions"] == one["partitions"] == "DailyPartitionsDefinition"
    assert four["automation"] and one["automation"]
    assert "metric_anomalies" in four["snapshot"]["assets"]["metric_anomalies"]["deps"]  # yesterday's state
    assert one["steps"] == {"telemetry_metrics": ["ingest_telemetry_metrics"], "metric_anomalies": ["metric_anomalies"],
                            "anomaly_rollups": ["anomaly_rollups"]}
    assert four["steps"] == {"telemetry_metrics": ["ingest_telemetry_metrics_joined",
                                                   *(f"ingest_telemetry_metrics_shard{s}_of_4" for s in range(4))],
                             "metric_anomalies": ["metric_scores_joined", "metric_shard_scores", "metric_shards"],
                             "anomaly_rollups": [*(f"rollup_shard{s}_of_4" for s in range(4)), "rollups_joined"]}


def test_a_bad_shard_count_stops_the_load_with_one_clear_line():
    with pytest.raises(subprocess.CalledProcessError) as err:
        probe("zero")
    assert "OPS_PIPELINES_SHARDS='zero' must be a whole number from 1 to 256" in err.value.stderr
