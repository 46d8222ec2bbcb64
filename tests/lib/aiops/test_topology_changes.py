"""Topology with service kinds (and the older edges form); change events from logs and records."""

import json

import pandas as pd
import pytest

from ops_pipelines.lib.aiops.changes import ChangePatterns, changes_from_logs, changes_from_records, combine, windows
from ops_pipelines.lib.aiops.topology import Topology
from ops_pipelines.settings import ASSETS_DIR

PATTERNS = ChangePatterns.load(ASSETS_DIR / "aiops" / "change_patterns.json")


def test_topology_reads_calls_kinds_and_lone_services(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"services": ["api", "db", "psp", "batch"], "calls": [["api", "db"], ["api", "psp"]],
                                "kinds": {"db": "database", "psp": "third_party"}}))
    topo = Topology.load(path)
    assert topo.services == ("api", "batch", "db", "psp")
    assert (topo.kind("db"), topo.kind("api"), topo.kind("unknown")) == ("database", "service", "service")
    assert topo.is_dark("psp") and not topo.is_dark("db")
    assert topo.depends_on("api", "db") == 1 and topo.depends_on("db", "api") is None
    assert topo.ancestors("psp") == {"api"} and topo.distance("db", "psp") == 2


def test_topology_still_reads_the_edges_form_and_names_unknown_kinds(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"edges": [["a", "b", 0.5]]}))
    assert Topology.load(old).edges == (("a", "b"),)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"calls": [["a", "b"]], "kinds": {"b": "databse"}}))
    with pytest.raises(ValueError, match="b=databse"):
        Topology.load(bad)


def test_the_aiops_topology_is_the_sample_worlds():
    world = json.loads((ASSETS_DIR / "sim" / "world.json").read_text())
    topo = Topology.load(ASSETS_DIR / "aiops" / "topology.json")
    assert topo.edges == tuple((a, b) for a, b, *_ in world["topology"])
    assert set(topo.services) == set(world["services"]) | set(world["external_services"])
    kinds = {**world["kinds"], **{s: v["kind"] for s, v in world["external_services"].items()}}
    assert {s: topo.kind(s) for s in topo.services if topo.kind(s) != "service"} == kinds


@pytest.mark.parametrize("message, kind, phase", [
    ("deploy started: version 2.3.1", "deploy", "start"),
    ("deploy finished: version 2.3.1 is live", "deploy", "end"),
    ("rolling update started for release 4.1.0", "deploy", "start"),
    ("rolling update complete, release 4.1.0 serving traffic", "deploy", "end"),
    ("starting upgrade to 1.3.1", "deploy", "start"),
    ("Deployment of build 812 succeeded", "deploy", "end"),
    ("configuration changed: feature flag search_v2 set to on", "config", "point"),
    ("Background saving started by pid 4242", "job", "start"),
    ("Background saving terminated with success", "job", "end"),
    ("starting base backup to s3://backups/pg-main", "job", "start"),
    ("autovacuum of table orders finished in 12 s", "job", "end"),
    ("checkout started order=ord-1 user=u1 items=2", "", ""),
    ("order ord-1 status changed to shipped", "", ""),
    ("POST /stock/release 200 12ms request_id=ab", "", ""),
])
def test_change_patterns_pick_deploy_config_and_job_lines_and_nothing_else(message, kind, phase):
    kinds, phases = PATTERNS.classify(pd.Series([message]))
    assert (kinds[0], phases[0]) == (kind, phase)


def lines(*rows):
    return pd.DataFrame([{"timestamp": pd.Timestamp(t, tz="UTC"), "service": s, "level": "INFO", "message": m} for t, s, m in rows])


def test_windows_pair_starts_with_ends_and_drop_a_jobs_lone_end():
    logs = lines(("2026-03-02 10:00", "cart", "deploy started: version 1.2.3"),
                 ("2026-03-02 10:06", "cart", "deploy finished: version 1.2.3 is live"),
                 ("2026-03-02 02:00", "db", "starting base backup to /mnt/b"),
                 ("2026-03-02 02:40", "db", "base backup completed: 10 MB in 9 s"),
                 ("2026-03-02 05:00", "erp", "batch job stock-sync finished in 12s, 4 records"),
                 ("2026-03-02 11:00", "api", "deploy finished: version 9.9.9 is live"))
    records = pd.DataFrame({"timestamp": [pd.Timestamp("2026-03-02 12:00", tz="UTC")], "service": ["api"],
                            "kind": ["config"], "detail": ["pool 10 -> 20"]})
    found = windows(combine(changes_from_logs(logs, PATTERNS), changes_from_records(records)), PATTERNS)
    spans = {(r.service, r.kind): (r.start.strftime("%H:%M"), r.end.strftime("%H:%M")) for r in found.itertuples()}
    assert spans == {("cart", "deploy"): ("10:00", "10:06"), ("db", "job"): ("02:00", "02:40"),
                     ("api", "deploy"): ("11:00", "11:00"), ("api", "config"): ("12:00", "12:00")}
