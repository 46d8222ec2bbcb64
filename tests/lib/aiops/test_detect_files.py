"""`ops-pipelines detect` on NAB-style files: the documented columns, real flags, messy files scored row for row."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.detect_files import (
    SeriesNotes,
    UnscorableFile,
    _moved_rows,
    detect_series,
    score_series,
)
from ops_pipelines.lib.aiops.detector import DetectorState, score

EXE = Path(sys.executable).with_name("ops-pipelines")


def write_series(path: Path, spike_at: int | None = None, n: int = 3000) -> None:
    rng = np.random.default_rng(1)
    t = pd.date_range("2015-09-01", periods=n, freq="5min")
    values = 50 + 10 * np.sin(np.arange(n) / 288 * 2 * np.pi) + rng.normal(0, 1, n)
    if spike_at is not None:
        values[spike_at] += 40
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": values.round(3)}).to_csv(path, index=False)


def test_detect_mirrors_the_input_tree_and_flags_the_spike(tmp_path):
    write_series(tmp_path / "in" / "realTraffic" / "speed.csv", spike_at=2500)
    write_series(tmp_path / "in" / "quiet.csv")
    out = subprocess.run([str(EXE), "detect", str(tmp_path / "in"), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    speed = pd.read_csv(tmp_path / "out" / "realTraffic" / "speed.csv")
    assert list(speed.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    original = pd.read_csv(tmp_path / "in" / "realTraffic" / "speed.csv")
    assert speed["timestamp"].tolist() == original["timestamp"].tolist()
    assert speed.loc[2500, "is_anomaly"] == 1 and speed["anomaly_score"].between(0, 1).all()
    assert set(speed["is_anomaly"]) <= {0, 1}
    quiet = pd.read_csv(tmp_path / "out" / "quiet.csv")
    assert quiet["is_anomaly"].iloc[600:].sum() <= 3


def test_detect_names_the_file_with_wrong_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    out = subprocess.run([str(EXE), "detect", str(bad), "--output", str(tmp_path / "out")], capture_output=True, text=True)
    assert out.returncode != 0 and "bad.csv" in out.stderr and "timestamp,value" in out.stderr


# --- messy files: scored in time order, written in file order -------------------------------


def series_frame(n: int = 3000, spike_at: int = 2500) -> pd.DataFrame:
    path_values = 50 + 10 * np.sin(np.arange(n) / 288 * 2 * np.pi) + np.random.default_rng(1).normal(0, 1, n)
    path_values[spike_at] += 40
    t = pd.date_range("2015-09-01", periods=n, freq="5min")
    return pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": path_values.round(3).astype(str)})


def test_an_out_of_order_file_scores_as_the_same_file_sorted():
    ordered = series_frame()
    # one row moved far back (as in NAB's machine_temperature file) and a few swapped pairs
    rows = list(range(len(ordered)))
    rows.insert(1200, rows.pop(2600))
    for i in (700, 1801, 2499):
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    shuffled = ordered.iloc[rows].reset_index(drop=True)

    out, notes = score_series(shuffled)
    expected = detect_series(ordered).iloc[rows].reset_index(drop=True)
    assert out["timestamp"].tolist() == shuffled["timestamp"].tolist()  # the file's own row order
    pd.testing.assert_frame_equal(out, expected)
    assert expected["anomaly_score"].gt(0).sum() > 10 and out.loc[rows.index(2500), "is_anomaly"] == 1
    assert notes == SeriesNotes(rows=len(ordered), out_of_order=4)
    assert "4 rows out of order" in notes.describe() and "scored in time order" in notes.describe()


def test_repeated_timestamps_keep_file_order_and_are_counted():
    frame = series_frame(n=800, spike_at=700)
    # as in NAB's files: a row's timestamp repeated by the next row, with another value
    rows = list(range(len(frame)))
    for at in (650, 400, 300):
        rows.insert(at + 1, at)
    messy = frame.iloc[rows].reset_index(drop=True)
    messy.loc[[301, 402, 653], "value"] = ["47.5", "52", "60.25"]
    out, notes = score_series(messy)
    assert len(out) == len(messy) and notes.repeated == 3 and notes.out_of_order == 0
    # same timestamps, file order kept: identical to scoring the rows as they come
    times = pd.to_datetime(messy["timestamp"], utc=True).array.asi8
    raw, _ = score(times, messy["value"].astype(float).to_numpy()[:, None], DetectorState.empty(["s"]))
    assert np.array_equal(out["anomaly_score"].to_numpy(), np.round(np.nan_to_num(raw[:, 0]), 6))
    assert out["anomaly_score"].gt(0).sum() > 10
    assert notes.describe() == "3 repeated timestamps"


def test_rows_without_a_number_or_time_get_no_score_and_do_not_change_the_others():
    clean = series_frame(n=1200, spike_at=1100)
    messy = clean.copy()
    messy.loc[[10, 500], "value"] = ["NaN", "n/a"]
    messy.loc[[20], "value"] = ["inf"]
    messy.loc[[30], "timestamp"] = ["yesterday"]
    out, notes = score_series(messy)
    assert notes == SeriesNotes(rows=1200, bad_timestamps=1, bad_values=3)
    assert out.loc[[10, 20, 30, 500], "anomaly_score"].eq(0).all()
    assert out["value"].tolist() == messy["value"].tolist()  # written back as the file had it
    kept = clean.drop(index=[10, 20, 30, 500])
    np.testing.assert_array_equal(out.drop(index=[10, 20, 30, 500])["anomaly_score"],
                                  detect_series(kept)["anomaly_score"])


def test_moved_rows_counts_the_fewest_rows_to_move():
    assert _moved_rows(np.array([1, 2, 3, 3, 4])) == 0
    assert _moved_rows(np.array([1, 2, 4, 5, 3, 6])) == 1  # one row late
    assert _moved_rows(np.array([1, 5, 2, 3, 4, 6])) == 1  # one row early
    assert _moved_rows(np.arange(10)[::-1].copy()) == 9


def test_naive_and_offset_timestamps_in_one_file_are_both_read_right():
    frame = pd.DataFrame({"timestamp": ["2015-01-01 00:00:00", "2015-01-01T02:00:00+01:00", "2015-01-01 02:00:00"],
                          "value": ["1", "2", "3"]})
    _, notes = score_series(frame)
    # 02:00+01:00 is 01:00 UTC, between the two naive (UTC) rows: nothing is out of order
    assert notes.out_of_order == 0 and notes.repeated == 0


def test_unscorable_frames_say_why():
    cases = {
        "missing column(s) value": pd.DataFrame({"timestamp": ["2015-01-01"], "val": ["1"]}),
        "no data rows": pd.DataFrame({"timestamp": [], "value": []}),
        "no readable timestamp": pd.DataFrame({"timestamp": ["01/02/2015", "x"], "value": ["1", "2"]}),
        "no finite numeric value": pd.DataFrame({"timestamp": ["2015-01-01", "2015-01-02"], "value": ["a", ""]}),
    }
    for message, frame in cases.items():
        try:
            detect_series(frame)
        except UnscorableFile as exc:
            assert message in str(exc), (message, str(exc))
        else:
            raise AssertionError(f"{message}: scored")
