"""The sample world's segment shift (one user segment clicks for other reasons from a known day on) is flagged
by the daily bias check on its day and on none of the 5 days before, each day judged as drift_report judges it
(`fairness.champion_groups`: the day's labelled rows against the champion's holdout).

The recsys events are simulated as the world writes them (`recsys.simulate_events`, seed 7, the default
world.json) with one change: the inventory shift (`shift_day_offset`, day 10 by default) is moved past the run,
so the bootstrap champion (trained on days 0-4, as the retraining job's bootstrap does) serves every day and the
segment shift is the only change. In the default world the inventory shift itself hurts segments unequally and
is (rightly) flagged on its day, before the retraining it triggers replaces the champion.
"""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import model_spec
from ops_pipelines.lib.mlops.fairness import champion_groups
from ops_pipelines.lib.mlops.monitoring import Champion
from ops_pipelines.lib.mlops.selection import split_evaluation
from ops_pipelines.lib.mlops.training import fit_pipeline
from ops_pipelines.lib.sim.clock import make_day
from ops_pipelines.lib.sim.config import default_config_path, load_config
from ops_pipelines.lib.sim.recsys import build_world, simulate_events
from ops_pipelines.lib.sim.world import DEFAULT_START

SEED = 7


@pytest.fixture(scope="module")
def world_days(tmp_path_factory):
    raw = json.loads(default_config_path().read_text())
    shift = raw["recsys"]["segment_shift"]
    raw["recsys"]["shift_day_offset"] = 1000  # the inventory shift after the run (see the module docstring)
    path = tmp_path_factory.mktemp("bias_world") / "world.json"
    path.write_text(json.dumps(raw))
    cfg = load_config(path)
    shop = build_world(cfg, SEED)
    frames = []
    for index in range(int(shift["day_offset"]) + 1):
        cols = simulate_events(cfg, SEED, make_day(DEFAULT_START, index, cfg.section("seasonality")), shop)
        frame = pd.DataFrame(cols)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
        frames.append(frame)
    return frames, shift


@pytest.mark.parametrize("model", ["ctr_logreg", "ctr_gbdt"])
def test_segment_shift_is_flagged_on_its_day_and_on_none_of_the_five_days_before(world_days, model):
    frames, shift = world_days
    spec = model_spec(model)
    window = spec.training.window_days
    shift_day = int(shift["day_offset"])
    assert shift_day - 5 >= window  # the 5 days before are all after the bootstrap (a champion on each)
    reference = pd.concat(frames[:window], ignore_index=True)  # the bootstrap's dataset version
    train, holdout, _ = split_evaluation(reference, spec)
    champion = Champion(version=1, dataset_version="bootstrap", model=fit_pipeline(spec, train), holdout_metric=float("nan"))
    flagged = {}
    for index in range(shift_day - 5, shift_day + 1):
        day = pd.Timestamp(DEFAULT_START) + pd.Timedelta(days=index)
        report = champion_groups(spec, day, frames[index], champion, reference)
        assert all(not g["skipped"] for g in report.groups)  # ~20k rows a day: every group is judged
        flagged[index] = sorted(f"{g['column']}={g['group']}" for g in report.flagged)
        if index == shift_day:
            shifted = next(g for g in report.groups if g["group"] == shift["segment"])
    assert flagged == {i: ([f"user_segment={shift['segment']}"] if i == shift_day else []) for i in flagged}
    assert shifted["change"] < -spec.fairness.margin and shifted["change_upper_95"] < -spec.fairness.margin
    assert np.isfinite(shifted["reference_gap"])
