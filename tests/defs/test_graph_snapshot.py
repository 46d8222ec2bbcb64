"""The asset graph against a committed snapshot: asset keys, groups, dependencies, check names and jobs.

A change to the graph must be on purpose. After one, refresh the snapshot and commit it with the change:

    OPS_UPDATE_GRAPH_SNAPSHOT=1 .venv/bin/pytest tests/defs/test_graph_snapshot.py

and read the diff of tests/defs/graph_snapshot.json in review.
"""

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")
UPDATE_ENV = "OPS_UPDATE_GRAPH_SNAPSHOT"


def graph_snapshot() -> dict:
    """The graph as plain, sorted data (nothing that depends on the machine, the clock or the environment)."""
    from ops_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node, name = graph.get(key), key.to_user_string()
        assets[name] = {"group": node.group_name, "deps": sorted(k.to_user_string() for k in node.parent_keys),
                        "checks": sorted(checks.get(name, []))}
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    return {"assets": assets, "jobs": jobs}


def render(snapshot: dict) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True) + "\n"


def differences(expected: dict, actual: dict) -> list[str]:
    """One line per difference, for a failure message a reviewer can read."""
    lines = []
    old, new = expected.get("assets", {}), actual["assets"]
    lines += [f"asset added: {k}" for k in sorted(set(new) - set(old))]
    lines += [f"asset removed: {k}" for k in sorted(set(old) - set(new))]
    for k in sorted(set(old) & set(new)):
        for field in ("group", "deps", "checks"):
            if old[k].get(field) != new[k][field]:
                lines.append(f"{k}.{field}: {old[k].get(field)} -> {new[k][field]}")
    if expected.get("jobs") != actual["jobs"]:
        lines.append(f"jobs: {expected.get('jobs')} -> {actual['jobs']}")
    return lines


def test_the_asset_graph_matches_the_committed_snapshot():
    actual = graph_snapshot()
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(render(actual), encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    diff = differences(expected, actual)
    assert not diff, ("the asset graph changed; if on purpose, refresh the snapshot with "
                      f"`{UPDATE_ENV}=1 .venv/bin/pytest tests/defs/test_graph_snapshot.py`:\n" + "\n".join(diff))


def test_the_comparison_names_what_changed():
    # The check above is only as good as its diff: a moved, added or rewired asset must show.
    base = {"assets": {"a": {"group": "g", "deps": [], "checks": []}, "b": {"group": "g", "deps": ["a"], "checks": ["c"]}},
            "jobs": ["j"]}
    moved = json.loads(json.dumps(base))
    moved["assets"]["b"] = {"group": "h", "deps": [], "checks": []}
    moved["assets"]["n"] = {"group": "g", "deps": ["b"], "checks": []}
    moved["jobs"] = ["j", "k"]
    assert differences(base, moved) == ["asset added: n", "b.group: g -> h", "b.deps: ['a'] -> []", "b.checks: ['c'] -> []",
                                        "jobs: ['j'] -> ['j', 'k']"]
    assert differences(base, base) == []
