"""Evaluation windows that grow back until each class has enough labels (rare-label models)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.mlops.config import EvaluationSpec, model_spec
from ops_pipelines.lib.mlops.monitoring import evaluation_rows
from ops_pipelines.lib.mlops.selection import split_evaluation
from ops_pipelines.lib.mlops.windows import DAY, grow_window

END = pd.Timestamp("2026-03-11", tz="UTC")  # exclusive end of the last day


def rare_frame(positives_per_day: dict[int, int], rows_per_day: int = 288) -> pd.DataFrame:
    """Ten days of 5-minute rows before END; day k (1 = the last day) has the given number of
    positives, spread over its hours, the rest negatives."""
    frames = []
    for k in range(10, 0, -1):
        start = END - k * DAY
        times = pd.date_range(start, periods=rows_per_day, freq=DAY / rows_per_day)
        y = np.zeros(rows_per_day, dtype=int)
        n = positives_per_day.get(k, 0)
        y[np.linspace(0, rows_per_day - 1, n, dtype=int) if n else []] = 1
        frames.append(pd.DataFrame({"timestamp": times, "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_window_grows_day_by_day_to_the_first_day_with_enough_labels_of_each_class():
    # 10, 12, 0, 9 positives on the last four days: 10+12 = 22, +0 = 22, +9 = 31 >= 30 on the 4th day back.
    frame = rare_frame({1: 10, 2: 12, 3: 0, 4: 9, 5: 40})
    window = grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30,
                         max_window_days=7, step=DAY)
    assert window.start == END - 4 * DAY and window.days == 4
    assert window.labels == {"0": 4 * 288 - 31, "1": 31}
    assert window.enough and window.grown and window.bound == ""
    # One label more needed than those four days hold: the window takes the fifth day as well.
    assert grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=32,
                       max_window_days=7, step=DAY).start == END - 5 * DAY


def test_window_grows_to_the_exact_time_point_without_a_step():
    frame = rare_frame({1: 10, 2: 30})
    window = grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30,
                         max_window_days=7)
    positives = frame.loc[frame["y"] == 1, "timestamp"].sort_values(ascending=False)
    assert window.start == positives.iloc[29]  # the 30th latest positive: the first point with 30
    assert window.labels["1"] == 30 and END - 2 * DAY < window.start < END - DAY


def test_window_stops_at_the_max_and_says_it_lacks_labels():
    frame = rare_frame({1: 5, 2: 5, 3: 5, 4: 5, 8: 100})
    window = grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30,
                         max_window_days=3, step=DAY)
    assert window.start == END - 3 * DAY and window.labels["1"] == 15
    assert not window.enough and window.bound == "max_window_days"
    assert "growth stopped by max_window_days" in window.describe()


def test_window_never_grows_before_earliest_and_never_shrinks():
    frame = rare_frame({1: 10, 2: 10, 3: 10, 4: 10})
    earliest = END - 2 * DAY - pd.Timedelta(hours=6)
    window = grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30,
                         max_window_days=7, earliest=earliest, step=DAY)
    assert window.start == earliest and window.bound == "earliest" and not window.enough
    plenty = rare_frame({1: 100})
    same = grow_window(plenty["timestamp"], plenty["y"], END, END - DAY, min_labels_per_class=30, max_window_days=7)
    assert same.start == END - DAY and not same.grown and same.enough


def test_window_rejects_empty_and_bad_bounds():
    frame = rare_frame({1: 1})
    with pytest.raises(ValueError, match="empty evaluation window"):
        grow_window(frame["timestamp"], frame["y"], END, END, min_labels_per_class=30, max_window_days=3)
    with pytest.raises(ValueError, match="max_window_days"):
        grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30, max_window_days=0)


def spec_with(evaluation: EvaluationSpec):
    base = model_spec("incident_risk")
    return dataclasses.replace(base, target="y", numeric=(), categorical=(), keys=(), evaluation=evaluation)


def test_holdout_grows_for_labels_but_leaves_the_candidate_most_of_the_data():
    frame = rare_frame({1: 4, 2: 4, 3: 30, 6: 50, 7: 50, 9: 50})
    spec = spec_with(EvaluationSpec(min_labels_per_class=30, max_window_days=5, max_holdout_share=0.5))
    train, hold, window = split_evaluation(frame, spec)
    positives = frame.loc[frame["y"] == 1, "timestamp"].sort_values(ascending=False)
    assert hold["timestamp"].min() == positives.iloc[29] == window.start  # 4 + 4 + 22 of day 3
    assert window.labels["1"] == 30 and window.grown and window.enough
    assert train["timestamp"].max() < hold["timestamp"].min() and len(train) + len(hold) == len(frame)
    # Without the config the holdout is the plain latest 25% (here 2.5 days, with 8 + 15 positives).
    plain = spec_with(EvaluationSpec())
    _, hold_plain, info = split_evaluation(frame, plain)
    assert len(hold_plain) == len(frame) // 4 and not info.grown
    # A bound on the share: the holdout may not take more than half the rows, however few labels it has.
    thin = rare_frame({1: 1, 2: 1, 9: 100})
    train, hold, window = split_evaluation(thin, spec_with(EvaluationSpec(30, 9, 0.5)))
    assert len(hold) == len(thin) // 2 and not window.enough and window.bound == "earliest"


def test_daily_check_uses_history_back_to_enough_labels_never_into_fitted_rows():
    frame = rare_frame({1: 10, 2: 12, 3: 0, 4: 9, 5: 40})
    spec = spec_with(EvaluationSpec(min_labels_per_class=30, max_window_days=7))
    day = END - DAY
    current, history = frame[frame["timestamp"] >= day], frame[frame["timestamp"] < day]
    rows, window = evaluation_rows(spec, day, current, history, earliest=None)
    assert window.start == END - 4 * DAY and int(rows["y"].sum()) == 31
    rows, window = evaluation_rows(spec, day, current, history, earliest=END - 2 * DAY)
    assert window.start == END - 2 * DAY and int(rows["y"].sum()) == 22 and not window.enough


def test_health_report_says_which_window_the_champion_was_judged_on():
    import json

    from ops_pipelines.lib.mlops.monitoring import health_sections
    from ops_pipelines.lib.platform.health_report import HealthInputs, mlops_section

    frame = rare_frame({1: 10, 2: 12, 3: 0, 4: 9})
    window = grow_window(frame["timestamp"], frame["y"], END, END - DAY, min_labels_per_class=30,
                         max_window_days=7, step=DAY)
    drift = pd.DataFrame([{"model": "incident_risk", "champion_version": 1.0, "dataset_drift": False, "drift_share": 0.2,
                           "drifted_columns": "[]", "retrain_reason": "", "performance": 0.71,
                           "evaluation_window": json.dumps(window.to_dict())}])
    section = health_sections(drift, pd.DataFrame())[0]
    assert section["champion_window"] == f"2026-03-07T00:00 to 2026-03-11T00:00 (4 days; {4 * 288 - 31} of class 0, 31 of class 1)"
    empty = pd.DataFrame(columns=["day"])
    table = mlops_section(HealthInputs("2026-03-10", empty, {}, empty, empty, empty, mlops=[section])).table
    assert table.rows[0][-1] == f"roc_auc 0.71 on {section['champion_window']}"


def test_a_retraining_window_grows_back_until_the_candidate_has_labels_of_each_class():
    from ops_pipelines.lib.mlops.selection import training_window_start

    # The requested day's only positives (40) fall in its last hours, i.e. in the holdout; the day before has 35.
    frame = rare_frame({2: 35})
    last = frame["timestamp"] >= END - pd.Timedelta(hours=3)
    frame.loc[last & (frame.index % 2 == 0), "y"] = 1
    spec = spec_with(EvaluationSpec(min_labels_per_class=30, max_window_days=3))
    spec = dataclasses.replace(spec, exclude_incidents=None)
    assert training_window_start(frame, spec, END - DAY, END, None) == END - 2 * DAY
    train, _, _ = split_evaluation(frame[frame["timestamp"] >= END - 2 * DAY], spec)
    assert train["y"].sum() >= 30
    # Without the evaluation entry the requested start is kept (and the fit would name the single class).
    assert training_window_start(frame, spec_with(EvaluationSpec()), END - DAY, END, None) == END - DAY
