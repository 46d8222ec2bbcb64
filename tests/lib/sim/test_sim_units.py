"""Small pieces of the simulator: PII validity, fault propagation, effect shapes, the incident plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ops_pipelines.lib.sim.config import load_config
from ops_pipelines.lib.sim.effects import shape_values
from ops_pipelines.lib.sim.incidents import concurrent_ids, plan_incidents
from ops_pipelines.lib.sim.llm_text import (
    card_number,
    compile_kb,
    german_iban,
    iban_valid,
    luhn_valid,
)
from ops_pipelines.lib.sim.topology import upstream_reach

DAY = 1440


def test_card_numbers_pass_luhn_and_ibans_pass_mod97():
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert luhn_valid(card_number(rng))
        assert iban_valid(german_iban(rng))
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE88 3704 0044 0532 0130 00")


def test_faults_echo_upstream_weakened_by_traffic_share():
    weights = {("web", "api"): 1.0, ("api", "db"): 0.5, ("api", "llm"): 0.02, ("batch", "db"): 1.0}
    reach = upstream_reach(weights, "db", dampening=0.6)
    assert reach == {"api": (1, 0.3), "batch": (1, 0.6), "web": (2, pytest.approx(0.18))}
    assert upstream_reach(weights, "llm", 0.6)["api"][1] < 0.02
    assert "db" not in upstream_reach(weights, "web", 0.6)


def test_effect_shapes():
    t = np.arange(0, 100)
    plateau = shape_values("plateau", 10, 50, 0, t)
    assert plateau[:10].sum() == 0 and plateau[50:].sum() == 0 and plateau[20:45].min() == 1.0
    ramp = shape_values("ramp", 10, 50, 0, t)
    assert np.all(np.diff(ramp[10:50]) > 0) and ramp[50] == 0  # a restart ends the leak
    tail = shape_values("tail", 10, 50, 3, t)
    assert tail.sum() == 3 and tail[47:50].all()


@pytest.mark.parametrize("seed", [1, 2, 3, 11, 42])
def test_plan_meets_the_brief_for_other_seeds(seed):
    cfg = load_config()
    plan = plan_incidents(cfg, seed, 14)
    assert len(plan) >= 8
    assert len({i.fault_type for i in plan}) >= 4
    assert any(i.start // DAY != (i.end - 1) // DAY for i in plan)
    shift = cfg.shift_day_offset * DAY
    assert any(i.start < shift + DAY and i.end > shift for i in plan)
    pairs = concurrent_ids(cfg, plan)
    for a, b in zip(plan, plan[1:]):
        assert b.start - a.end >= 120 or pairs.get(a.id) == b.id
    assert all(15 <= i.end - i.start <= 120 for i in plan)
    # exactly one pair of independent faults overlaps, and its roots share a caller without depending on each other
    a, b = (i for i in plan if i.id in pairs)
    callers = lambda s: {x for x, y in cfg.edges if y == s}
    assert callers(a.root) & callers(b.root)
    assert a.root not in upstream_reach(cfg.edge_weights, b.root, 1.0) and b.root not in upstream_reach(cfg.edge_weights, a.root, 1.0)
    assert any(i.root in cfg.external for i in plan) and any(i.fault_type == "bad_deploy" for i in plan)


def test_short_runs_plan_a_prefix_of_the_default_world():
    cfg = load_config()
    full = plan_incidents(cfg, 7, 14)
    short = plan_incidents(cfg, 7, 7)
    assert short == [i for i in full if i.last_minute <= 7 * DAY]
    assert short


def test_wrong_answers_change_exactly_one_fact():
    topic = compile_kb(load_config().section("llm_app")["knowledge_base"])[0]
    for index, wrong in topic.wrong_answers:
        right = topic.answers[index]
        assert wrong != right
        assert len(set(wrong.split()) ^ set(right.split())) <= 4


def test_broken_config_names_the_file_and_the_problem(tmp_path):
    broken = json.loads(json.dumps(load_config().raw))
    broken["topology"].append(["frontend", "nowhere"])
    path = tmp_path / "world.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"world\.json.*nowhere"):
        load_config(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"cannot read sample-world config .*world\.json"):
        load_config(path)
