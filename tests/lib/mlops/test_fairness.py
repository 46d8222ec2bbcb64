"""Bias across groups: MetricFrame figures, the daily group verdict (95% rule), skipped groups, bad input,
and the promotion gate that blocks a candidate widening a disparity."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import FairnessSpec
from ops_pipelines.lib.mlops.evaluation import compare
from ops_pipelines.lib.mlops.fairness import Scored, disparity_gate, gate_table, group_report
from tests.lib.mlops.mlflow_helpers import Scores, click_rows, specs

SPEC, _ = specs()


def _hand_frame():
    """Group a: 100 rows, 50 positives all right, 10 of 50 negatives wrong -> accuracy 0.9.
    Group b: 120 rows, 60 positives all right, 30 of 60 negatives wrong -> accuracy 0.75."""
    groups = ["a"] * 100 + ["b"] * 120
    y = [1] * 50 + [0] * 50 + [1] * 60 + [0] * 60
    p = [0.9] * 50 + [0.8] * 10 + [0.1] * 40 + [0.9] * 60 + [0.8] * 30 + [0.1] * 30
    return pd.DataFrame({"g": groups}), np.array(y), np.array(p)


def test_metric_frame_figures_match_a_hand_computation():
    frame, y, p = _hand_frame()
    spec = FairnessSpec(groups=("g",), metric="accuracy", margin=0.5, min_labels_per_class=10)
    report = group_report(spec, Scored.of(frame, y, p))
    a, b = report.groups
    assert (a["group"], a["rows"], a["labels_1"]) == ("a", 100, 50)
    assert a["value"] == pytest.approx(0.9) and b["value"] == pytest.approx(0.75)
    assert a["rest"] == pytest.approx(0.75) and b["rest"] == pytest.approx(0.9)
    assert b["gap"] == pytest.approx(-0.15) and a["gap"] == pytest.approx(0.15)
    (d,) = report.disparities
    assert d["difference"] == pytest.approx(0.15) and d["ratio"] == pytest.approx(0.75 / 0.9)
    assert (d["worst_group"], d["best_group"], d["groups_judged"]) == ("b", "a", 2)
    assert not report.flagged  # 0.15 is within the 0.5 margin
    assert "| g | b | 120 | 60 | 0.750 | 0.900 | -0.150 |" in report.table()


def _drifting(n=6000, seed=3, drop_group="c", noise_share=1.0):
    """Reference: the model is equally good for every group. Today: for `drop_group` it is partly noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"seg": rng.choice(["a", "b", "c"], n)})
    y = (rng.random(n) < 0.2).astype(int)
    good = y * 0.35 + rng.random(n)
    today = np.where((frame["seg"] == drop_group) & (rng.random(n) < noise_share), rng.random(n), good)
    return frame, y, good, today


def test_a_group_that_falls_behind_is_flagged_with_95_percent_confidence():
    frame, y, good, today = _drifting()
    spec = FairnessSpec(groups=("seg",), margin=0.05)
    report = group_report(spec, Scored.of(frame, y, today), Scored.of(frame, y, good))
    flagged = {g["group"] for g in report.flagged}
    assert flagged == {"c"}
    c = next(g for g in report.groups if g["group"] == "c")
    assert c["change"] < -0.05 and c["change_upper_95"] < -0.05  # even the optimistic end is past the margin
    assert c["reference_gap"] == pytest.approx(c["gap"] - c["change"])
    assert "seg=c" in report.flagged_text()
    # Seeded: the same rows give the same bound.
    again = group_report(spec, Scored.of(frame, y, today), Scored.of(frame, y, good))
    assert again.to_dict() == report.to_dict()
    # Unchanged quality: nothing flagged.
    assert not group_report(spec, Scored.of(frame, y, good), Scored.of(frame, y, good)).flagged


def test_a_fall_within_sampling_noise_is_not_flagged():
    # A small group (300 rows, ~60 positives) with a mild loss: the point estimate may pass the margin,
    # the 95% bound does not.
    rng = np.random.default_rng(8)
    n = 300
    frame = pd.DataFrame({"seg": ["small"] * n + ["big"] * 5000})
    y = (rng.random(n + 5000) < 0.2).astype(int)
    good = y * 0.35 + rng.random(n + 5000)
    today = good + np.r_[rng.normal(0, 0.35, n), np.zeros(5000)]
    spec = FairnessSpec(groups=("seg",), margin=0.05)
    report = group_report(spec, Scored.of(frame, y, today), Scored.of(frame, y, good))
    small = next(g for g in report.groups if g["group"] == "small")
    assert small["change"] < -0.05 < -small["change_upper_95"] + 0.1  # seemed to fall past the margin
    assert small["change_upper_95"] > -0.05 and not small["flagged"]


def test_small_groups_are_skipped_with_a_reason_not_judged():
    frame, y, good, today = _drifting()
    frame.loc[:39, "seg"] = "tiny"  # 40 rows
    few = np.flatnonzero((frame["seg"] == "c").to_numpy() & (y == 1))[20:]
    y[few] = 0  # group c keeps only 20 positives
    spec = FairnessSpec(groups=("seg",), margin=0.05)
    report = group_report(spec, Scored.of(frame, y, today), Scored.of(frame, y, good))
    by = {g["group"]: g for g in report.groups}
    assert by["tiny"]["skipped"].startswith("fewer than 100 rows") and not by["tiny"]["flagged"]
    assert "fewer than 30 labels of a class in the group" in by["c"]["skipped"] and not by["c"]["flagged"]
    assert by["c"]["value"] is None and by["c"]["gap"] is None
    assert report.disparities[0]["groups_judged"] == 2  # a and b only
    assert "skipped: fewer than 100 rows" in report.table()


def test_bad_input():
    frame, y, good, today = _drifting(n=1000)
    spec = FairnessSpec(groups=("region",))
    with pytest.raises(ValueError, match="group column 'region' is not in the rows"):
        group_report(spec, Scored.of(frame, y, good))
    with pytest.raises(ValueError, match="differ in length"):
        Scored.of(frame, y[:-1], good)
    # Missing group values are a group of their own, never dropped.
    frame.loc[:499, "seg"] = np.nan
    report = group_report(FairnessSpec(groups=("seg",)), Scored.of(frame, y, good))
    by = {g["group"]: g for g in report.groups}
    assert by["<missing>"]["rows"] == 500 and sum(g["rows"] for g in report.groups) == 1000
    # No rows: nothing judged, no disparity, no error.
    empty = group_report(FairnessSpec(groups=("seg",)), Scored.of(frame.iloc[:0], y[:0], good[:0]))
    assert empty.groups == [] and empty.disparities[0]["difference"] is None and not empty.flagged


def test_gate_blocks_a_candidate_that_widens_the_gap_and_allows_one_that_does_not():
    n = 4000
    window = click_rows(n, seed=5)
    rng = np.random.default_rng(5)
    good = pd.Series(np.clip(window["clicked"] * 0.3 + rng.random(n) * 0.7, 0, 1), index=window.index)
    noise = pd.Series(rng.random(n), index=window.index)
    loyal = window["user_segment"] == "loyal"
    # Champion: a little better than noise everywhere. Candidate: better overall, but noise for loyal users.
    champion = good * 0.5 + noise * 0.5
    widening = good.where(~loyal, noise)
    no_slices = dataclasses.replace(SPEC, promotion=dataclasses.replace(SPEC.promotion, slices=()))
    blocked = compare(no_slices, Scores(widening), Scores(champion), window)
    assert blocked.delta > 0  # overall it would have passed
    assert not blocked.passed and "disparity across user_segment" in blocked.reason and "loyal" in blocked.reason
    seg = next(g for g in blocked.groups if g["column"] == "user_segment")
    assert seg["blocked"] and seg["widening_lower_95"] > SPEC.fairness.max_disparity_widening
    assert seg["candidate_by_group"]["loyal"] < seg["champion_by_group"]["loyal"]
    assert blocked.to_metadata()["disparity_blocked"] == "user_segment"
    table = gate_table(blocked.groups, "roc_auc")
    assert f"| user_segment | loyal | {seg['candidate_by_group']['loyal']:.3f} |" in table and "| yes |" in table
    # Better for every group alike: allowed.
    allowed = compare(no_slices, Scores(good), Scores(champion), window)
    assert allowed.passed and not any(g["blocked"] for g in allowed.groups)
    assert allowed.to_metadata()["disparity_blocked"] == "none"
    # A looser limit lets the widening candidate through.
    loose = dataclasses.replace(no_slices, fairness=dataclasses.replace(SPEC.fairness, max_disparity_widening=1.0))
    assert compare(loose, Scores(widening), Scores(champion), window).passed


def test_disparity_gate_judges_only_groups_with_enough_labels():
    frame, y, good, today = _drifting(n=3000)
    frame.loc[:49, "seg"] = "tiny"
    (entry,) = disparity_gate(FairnessSpec(groups=("seg",)), frame, y, today, good)
    assert entry["groups_judged"] == 3 and entry["candidate_by_group"]["tiny"] is None
    assert entry["widening"] == pytest.approx(entry["candidate_difference"] - entry["champion_difference"])


def test_health_report_shows_disparity_and_flagged_groups():
    import json

    from ops_pipelines.lib.mlops.monitoring import groups_summary
    from ops_pipelines.lib.platform.health_report import HealthInputs, render_markdown

    frame, y, good, today = _drifting()
    report = group_report(FairnessSpec(groups=("seg",)), Scored.of(frame, y, today), Scored.of(frame, y, good))
    summary = groups_summary(json.dumps(report.to_dict()))
    d = report.disparities[0]
    assert summary["group_disparity"] == f"seg {d['difference']:.3f} (worst c)"
    assert summary["groups_flagged"].startswith("seg=c (")
    assert groups_summary("") == {} and groups_summary(None) == {}
    empty = pd.DataFrame()
    inputs = HealthInputs(day="2026-03-14", incidents=empty, noise={}, llm_quality=empty, prompt_comparison=empty,
                          prompt_promotion=empty, mlops=[{"model": "ctr_logreg", **summary}])
    text = render_markdown(inputs)
    assert "## Models: bias across groups" in text and "1 model(s) with a group that fell behind" in text
    assert summary["group_disparity"] in text and "seg=c" in text


@pytest.mark.parametrize("with_reference", [True, False])
def test_the_roc_auc_bootstrap_from_counts_equals_the_generic_one_resample_by_resample(with_reference):
    from ops_pipelines.lib.mlops.evaluation import upper_bound_95
    from ops_pipelines.lib.mlops.fairness import _change_statistic, _change_upper_95

    rng = np.random.default_rng(4)

    def scored(n):  # rounded scores: many ties, which count half
        y = (rng.random(n) < 0.2).astype(int)
        return Scored.of(pd.DataFrame(index=range(n)), y, np.round(rng.random(n) + 0.3 * y, 1))

    today, reference = scored(1500), scored(900)
    inside, held = np.flatnonzero(rng.random(1500) < 0.2), np.flatnonzero(rng.random(900) < 0.3)
    strata = [inside, np.setdiff1d(np.arange(1500), inside), held, np.setdiff1d(np.arange(900), held)]
    strata, reference = (strata, reference) if with_reference else (strata[:2], None)
    generic = upper_bound_95(_change_statistic("roc_auc", today, reference), strata)
    assert _change_upper_95("roc_auc", today, reference, strata) == pytest.approx(generic, abs=1e-12)


def test_a_resample_without_both_classes_has_no_roc_auc():
    from ops_pipelines.lib.mlops.evaluation import roc_auc, roc_auc_resampled

    y, scores = np.array([1, 0, 0]), np.array([0.2, 0.1, 0.2])
    counts = np.array([[3, 0, 0], [0, 2, 1], [1, 1, 1], [2, 0, 1]])
    values = roc_auc_resampled(y == 1, scores, counts)
    assert np.isnan(values[0]) and np.isnan(values[1])
    assert values[2] == pytest.approx(roc_auc(y == 1, scores)) == pytest.approx(0.75)  # a tie counts half
    assert values[3] == pytest.approx(0.5)  # both positives tie the one negative
