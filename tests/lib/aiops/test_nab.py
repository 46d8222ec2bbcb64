"""NAB scoring against numbers worked out by hand from the written rules (no shared data)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops import nab

# The hand case: 40 rows every 5 minutes, one window on rows 10..14 (W = 5).
# Probation = min(floor(0.15 × 40), 750) = 6 rows, so rows 0..5 never count.
# σ(x) = 2/(1 + e^(5x)) − 1:
#   σ(−1)   = 2/(1 + e^−5)   − 1 = 2/1.0067379 − 1 =  0.9866143
#   σ(−0.6) = 2/(1 + e^−3)   − 1 = 2/1.0497871 − 1 =  0.9051483
#   σ(0.25) = 2/(1 + e^1.25) − 1 = 2/4.4903430 − 1 = −0.5545997
# Detections and their values (standard profile: A_TP 1, A_FP 0.11, A_FN 1):
#   row  2  in probation                                   ->  0 (ignored)
#   row  7  FP before any window                           -> −0.11
#   row 10  window's first row, y = −(14−10+1)/5 = −1      -> +1 × σ(−1)/σ(−1) = +1
#   row 12  later in the window (y = −0.6): not the earliest -> 0
#   row 15  FP just after: y = (15−14)/(5−1) = 0.25       -> 0.11 × σ(0.25) = −0.0610060
#   row 30  FP far away: y = (30−14)/4 = 4 > 3             -> −0.11
#   raw = 1 − 0.11 − 0.0610060 − 0.11 = 0.7189940; TP 1, FN 0, FP 3 rows
N = 40
TS = pd.date_range("2024-01-01", periods=N, freq="5min")
WINDOWS = [(TS[10], TS[14])]
RAW_A = 0.7189940


def fires(*rows: int, n: int = N) -> np.ndarray:
    scores = np.zeros(n)
    scores[list(rows)] = 1.0
    return scores


def test_hand_case_standard():
    got = nab.score_file(TS, fires(2, 7, 10, 12, 15, 30), WINDOWS, 0.5, nab.STANDARD)
    assert got.raw == pytest.approx(RAW_A, abs=1e-6)
    assert (got.tp, got.fn, got.fp) == (1, 0, 3)


def test_a_row_out_of_order_is_scored_at_its_place_in_time():
    # the hand case with rows 10 and 30 swapped in the file: each keeps its own score
    order = np.arange(N)
    order[[10, 30]] = order[[30, 10]]
    got = nab.score_file(TS[order], fires(2, 7, 10, 12, 15, 30)[order], WINDOWS, 0.5)
    assert got.raw == pytest.approx(RAW_A, abs=1e-6)
    corpus = nab.score_corpus({"f": (TS[order], fires(2, 7, 10, 12, 15, 30)[order])}, {"f": WINDOWS}, 0.5)
    assert corpus.raw == pytest.approx(RAW_A, abs=1e-6)


def test_hand_case_low_fp_profile():
    # A_FP 0.22 doubles every FP term: 1 − 0.22 − 0.1220119 − 0.22 = 0.4379881
    got = nab.score_file(TS, fires(2, 7, 10, 12, 15, 30), WINDOWS, 0.5, nab.LOW_FP)
    assert got.raw == pytest.approx(0.4379881, abs=1e-6)


def test_later_detection_is_worth_less():
    # only row 12 fires: σ(−0.6)/σ(−1) = 0.9051483/0.9866143 = 0.9174287
    got = nab.score_file(TS, fires(12), WINDOWS, 0.5)
    assert got.raw == pytest.approx(0.9174287, abs=1e-6)
    # right edge: y = −1/5, σ(−0.2)/σ(−1) = (2/(1+e^−1) − 1)/0.9866143 = 0.4621172/0.9866143 = 0.4683869
    assert nab.score_file(TS, fires(14), WINDOWS, 0.5).raw == pytest.approx(0.4683869, abs=1e-6)


def test_probation_rows_are_ignored_and_a_missed_window_costs_a_fn():
    only_probation = nab.score_file(TS, fires(2, 5), WINDOWS, 0.5)
    assert (only_probation.raw, only_probation.tp, only_probation.fn, only_probation.fp) == (-1.0, 0, 1, 0)
    assert nab.score_file(TS, fires(5), WINDOWS, 0.5, nab.LOW_FN).raw == -2.0
    # row 6 is the first row past probation: −1 (missed window) − 0.11
    assert nab.score_file(TS, fires(6), WINDOWS, 0.5).raw == pytest.approx(-1.11)


def test_probation_is_capped_at_750_rows():
    # 6000 rows: floor(0.15 × 6000) = 900, capped to 750, so row 749 is ignored and 750 pays A_FP
    ts = pd.date_range("2024-01-01", periods=6000, freq="min")
    got = nab.score_file(ts, fires(749, 750, n=6000), [], 0.5)
    assert (got.raw, got.fp) == (pytest.approx(-0.11), 1)


def test_detection_is_score_at_or_above_threshold():
    scores = np.zeros(N)
    scores[10] = 0.7
    assert nab.score_file(TS, scores, WINDOWS, 0.7).tp == 1
    assert nab.score_file(TS, scores, WINDOWS, 0.7000001).tp == 0


def test_corpus_normalisation_null_perfect_and_hand_case():
    # B: 20 rows, no window, probation 3 rows, one FP at row 10 -> −0.11
    ts_b = pd.date_range("2024-02-01", periods=20, freq="h")
    windows = {"cat/a.csv": WINDOWS, "cat/b.csv": []}

    def corpus(a_rows, b_rows, profile=nab.STANDARD):
        files = {"cat/a.csv": (TS, fires(*a_rows)), "cat/b.csv": (ts_b, fires(*b_rows, n=20))}
        return nab.score_corpus(files, windows, 0.5, profile)

    # one window in the corpus: S_null = −1, S_perfect = +1
    assert corpus([], []).normalised == pytest.approx(0.0)
    assert corpus([10], []).normalised == pytest.approx(100.0)
    # S = 0.7189940 − 0.11 = 0.6089940; 100 × (0.6089940 + 1)/2 = 80.44970
    got = corpus([2, 7, 10, 12, 15, 30], [10])
    assert got.raw == pytest.approx(0.6089940, abs=1e-6)
    assert got.normalised == pytest.approx(80.44970, abs=1e-4)
    assert (got.tp, got.fn, got.fp, got.n_windows) == (1, 0, 4, 1)
    # low-FN: S_null = −2; the window is hit so S is unchanged: 100 × (0.6089940 + 2)/3 = 86.96647
    assert corpus([2, 7, 10, 12, 15, 30], [10], nab.LOW_FN).normalised == pytest.approx(86.96647, abs=1e-4)
    assert corpus([], [], nab.LOW_FN).normalised == pytest.approx(0.0)


def _sweep_case():
    # probation row 2 at 0.95, in-window rows 10 = 0.6, 12 = 0.9, 13 = 0.85, far FP row 30 = 0.8
    scores = np.zeros(N)
    scores[[2, 10, 12, 13, 30]] = [0.95, 0.6, 0.9, 0.85, 0.8]
    return {"a.csv": (TS, scores)}, {"a.csv": WINDOWS}


def test_best_threshold_by_hand():
    # t = inf or 0.95: only the probation row fires              -> −1
    # t = 0.9:  row 12 is the earliest detection                  -> 0.9174287
    # t = 0.85: row 13 joins, row 12 is still earliest            -> 0.9174287 (tie: keep 0.9)
    # t = 0.8:  plus the far FP                                   -> 0.8074287
    # t = 0.6:  row 10 becomes earliest                           -> 1 − 0.11 = 0.89
    # t = 0:    every row fires, dozens of FPs                    -> far below
    files, windows = _sweep_case()
    best = nab.best_threshold(files, windows)
    assert best.threshold == 0.9
    assert best.raw == pytest.approx(0.9174287, abs=1e-6)
    assert (best.tp, best.fp) == (1, 0)


def test_threshold_curve_matches_scoring_each_candidate():
    files, windows = _sweep_case()
    candidates, raw = nab.threshold_curve(files, windows, nab.LOW_FN)
    assert list(candidates) == [np.inf, 0.95, 0.9, 0.85, 0.8, 0.6, 0.0]
    one_by_one = [nab.score_corpus(files, windows, t, nab.LOW_FN).raw for t in candidates]
    np.testing.assert_allclose(raw, one_by_one, atol=1e-9)


def test_never_firing_wins_when_every_threshold_loses():
    scores = np.zeros(N)
    scores[30] = 0.9  # one far FP, no window hit
    best = nab.best_threshold({"a.csv": (TS, scores)}, {"a.csv": WINDOWS})
    assert best.threshold == np.inf and best.normalised == pytest.approx(0.0)


def test_load_windows_and_utc_timestamps(tmp_path):
    path = tmp_path / "windows.json"
    path.write_text(json.dumps({
        "cat/a.csv": [[f"{TS[10]}.000000", f"{TS[14]}.000000"]],
        "cat/empty.csv": [],
    }))
    windows = nab.load_windows(path)
    assert windows == {"cat/a.csv": WINDOWS, "cat/empty.csv": []}
    aware = TS.tz_localize("UTC")  # what our detectors write; NAB's times are UTC without a zone
    got = nab.score_file(aware, fires(2, 7, 10, 12, 15, 30), windows["cat/a.csv"], 0.5)
    assert got.raw == pytest.approx(RAW_A, abs=1e-6)


def test_bad_inputs_are_named():
    with pytest.raises(KeyError, match="b.csv"):
        nab.score_corpus({"b.csv": (TS, np.zeros(N))}, {"a.csv": WINDOWS}, 0.5)
    outside = [(pd.Timestamp("2030-01-01"), pd.Timestamp("2030-01-02"))]
    with pytest.raises(ValueError, match="a.csv: window .* covers no row"):
        nab.score_corpus({"a.csv": (TS, np.zeros(N))}, {"a.csv": outside}, 0.5)
    with pytest.raises(ValueError, match="scores for"):
        nab.score_file(TS, np.zeros(N - 1), WINDOWS, 0.5)
