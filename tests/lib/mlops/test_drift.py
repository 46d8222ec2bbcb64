"""Drift statistics: Evidently's verdicts on seeded frames, and the edge cases Evidently does not survive."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ops_pipelines.lib.mlops.drift import (
    CAT,
    MISSING,
    NUM,
    compute_drift,
    evidently_drift,
    infer_column_kind,
    save_drift_report,
)


def frames(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every kind and method path; `shifted`, `cnt`, `city` drift, the rest do not."""
    rng = np.random.default_rng(seed)

    def make(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame({
            "shifted": rng.normal(shift, 1.0, n),
            "stable": rng.gamma(2.0, 3.0, n),
            "few": rng.integers(0, 4, n).astype(float),  # float with 4 values: chi-square / JS
            "two": rng.choice([0.0, 1.0], n),  # float with 2 values: Z-test / JS
            "cnt": rng.poisson(30 + 10 * shift, n),  # high-cardinality int: numeric
            "city": rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.1, 0.2, 0.3, 0.4]),
            "plan": pd.Categorical(rng.choice(["free", "pro"], n)),
            "flag": rng.random(n) < 0.3,
            "small_int": rng.integers(0, 3, n),  # low-cardinality int: categorical
        })

    ref, cur = make(n_ref, 0.0), make(n_cur, 1.0)
    cur.loc[cur.index[:7], "stable"] = np.nan
    cur.loc[cur.index[7:9], "stable"] = np.inf
    cur.loc[cur.index[:5], "city"] = "unseen"
    return ref, cur


@pytest.fixture(scope="module")
def evidently_run():
    """Bare Evidently, imported once for this module (10+ s). A required dependency: an install where it
    cannot be imported fails here, it is not skipped."""
    import evidently  # noqa: F401

    return evidently_drift


@pytest.mark.parametrize(("n_ref", "n_cur", "seed"), [(500, 400, 1), (3000, 2500, 2)], ids=["small-data", "large-data"])
def test_verdicts_and_scores_agree_with_evidently(evidently_run, n_ref, n_cur, seed):
    ref, cur = frames(n_ref, n_cur, seed)
    ours, theirs = compute_drift(ref, cur), evidently_run(ref, cur)
    assert list(ours.columns) == list(theirs.columns)
    for name, expected in theirs.columns.items():
        got = ours.columns[name]
        assert got.method == expected.method, name
        assert got.threshold == expected.threshold, name
        assert got.score == pytest.approx(expected.score, rel=1e-6, abs=1e-12), name
        assert got.drifted == expected.drifted, name
    assert ours.drift_share == pytest.approx(theirs.drift_share)
    assert ours.dataset_drift == theirs.dataset_drift
    assert ours.columns["shifted"].drifted and not ours.columns["stable"].drifted


def test_small_and_large_data_use_different_methods():
    small = compute_drift(*frames(500, 400, 1))
    large = compute_drift(*frames(3000, 2500, 2))
    assert {c.method for c in small.columns.values()} == {"ks", "chisquare", "z"}
    assert {c.method for c in large.columns.values()} == {"wasserstein", "jensenshannon"}


def test_save_drift_report_samples_large_inputs_and_says_so(evidently_run, tmp_path):
    ref, cur = frames(3000, 2500, 2)
    ref["empty"] = np.nan  # Evidently raises on an all-NaN column: the report leaves it out
    out = save_drift_report(ref, cur.assign(empty=1.0), None, tmp_path / "drift.html", max_rows=1000, seed=3)
    assert out.name == "drift.sampled-1000-seed3.html" and out.stat().st_size > 10_000
    assert "<html" in out.read_text(encoding="utf-8")[:5000].lower()
    small = save_drift_report(*frames(200, 150, 4), ["shifted", "city"], tmp_path / "small.html")
    assert small == tmp_path / "small.html" and small.exists()


def test_reference_size_boundary_counts_rows_after_cleaning():
    rng = np.random.default_rng(5)
    cur = pd.DataFrame({"x": rng.normal(0, 1, 500)})
    at_limit = pd.DataFrame({"x": rng.normal(0, 1, 1000)})
    above = pd.DataFrame({"x": rng.normal(0, 1, 1001)})
    above_with_nan = above.copy()
    above_with_nan.loc[3, "x"] = np.nan
    assert compute_drift(at_limit, cur).columns["x"].method == "ks"
    assert compute_drift(above, cur).columns["x"].method == "wasserstein"
    assert compute_drift(above_with_nan, cur).columns["x"].method == "ks"


def test_wasserstein_matches_scipy_normed_by_reference_std():
    rng = np.random.default_rng(6)
    ref, cur = rng.lognormal(0, 1, 4000), rng.lognormal(0.05, 1, 3000)
    got = compute_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).columns["x"]
    assert got.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    assert got.drifted == (got.score >= 0.1)


def test_constant_column_uses_std_floor_and_same_constant_is_no_drift():
    ones = pd.DataFrame({"c": np.ones(2000), "k": np.full(2000, 7.0)})
    small = pd.DataFrame({"c": np.ones(50), "k": np.full(50, 8.0)})
    result = compute_drift(ones, ones.copy())
    assert result.columns["c"].score == 0.0 and not result.dataset_drift
    shifted = compute_drift(ones.iloc[:100], small)  # <= 1000 rows: Z-test on one/two values
    assert shifted.columns["c"].score == 1.0 and not shifted.columns["c"].drifted
    assert shifted.columns["k"].method == "z" and shifted.columns["k"].drifted


def test_non_finite_values_are_dropped_and_counted():
    ref, cur = frames(3000, 2500, 7)
    clean = compute_drift(ref, cur.replace([np.inf, -np.inf], np.nan).dropna(subset=["stable"]))
    dirty = compute_drift(ref, cur)
    assert dirty.columns["stable"].score == pytest.approx(clean.columns["stable"].score)
    assert (dirty.columns["stable"].dropped_current, dirty.columns["stable"].dropped_reference) == (9, 0)
    obj = pd.DataFrame({"s": np.array(["a", "b", None, np.inf] * 50, dtype=object)})
    assert compute_drift(obj, obj, categorical=["s"]).columns["s"].dropped_current == 100
    json.dumps(dirty.to_dict(), allow_nan=False)


def test_all_missing_columns():
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 300), "gone": rng.normal(0, 1, 300), "never": np.nan})
    cur = pd.DataFrame({"x": rng.normal(0, 1, 300), "gone": np.full(300, np.inf), "never": np.nan})
    result = compute_drift(ref, cur)
    assert result.columns["gone"].method == MISSING and result.columns["gone"].drifted
    assert result.columns["gone"].dropped_current == 300
    assert "never" in result.skipped and "never" not in result.columns
    assert result.drift_share == pytest.approx(0.5)  # 1 of the 2 compared columns
    with pytest.raises(ValueError, match="no column could be compared"):
        compute_drift(ref[["never"]], cur[["never"]])


@pytest.mark.parametrize("n", [300, 3000], ids=["chi-square", "jensen-shannon"])
def test_categories_unseen_in_reference_count_as_drift(n):
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"s": rng.choice(list("abc"), n)})
    same_shares = ref.sample(frac=1.0, random_state=0)
    assert not compute_drift(ref, same_shares).columns["s"].drifted
    unseen = same_shares.copy()
    unseen.iloc[: n // 20, 0] = "d"  # 5% of rows move to a category the reference never had
    assert compute_drift(ref, unseen).columns["s"].drifted


def test_kinds_per_dtype_and_categorical_override():
    n = 400
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({
        "f": rng.normal(size=n),
        "i_low": rng.integers(0, 5, n),
        "i_high": rng.integers(0, 1000, n),
        "b": rng.random(n) < 0.5,
        "cat": pd.Categorical(rng.choice(["x", "y"], n)),
        "obj": rng.choice(["x", "y", "z"], n).astype(object),
        "nullable": pd.array(rng.integers(0, 1000, n), dtype="Int64"),
        "text": [f"free text {i}" for i in range(n)],
        "when": pd.date_range("2026-03-01", periods=n, freq="h", tz="UTC"),
    })
    kinds = {c: infer_column_kind(frame[c]) for c in frame.columns}
    assert kinds == {"f": NUM, "i_low": CAT, "i_high": NUM, "b": CAT, "cat": CAT, "obj": CAT,
                     "nullable": NUM, "text": "text", "when": "datetime"}
    result = compute_drift(frame, frame.sample(frac=1.0, random_state=0))  # row order does not matter
    assert set(result.skipped) == {"text", "when"} and not result.drifted_columns
    assert all(c.score == pytest.approx(1.0) or c.score == 0.0 for c in result.columns.values())
    assert compute_drift(frame, frame, ["i_high"], categorical=["i_high"]).columns["i_high"].kind == CAT
    with pytest.raises(ValueError, match="unsupported type.*text"):
        compute_drift(frame, frame, ["f", "text"])


def test_duplicated_reference_rows_give_the_same_large_data_scores():
    ref, cur = frames(3000, 2500, 11)
    once, twice = compute_drift(ref, cur), compute_drift(pd.concat([ref, ref]), cur)
    for name, col in once.columns.items():
        assert twice.columns[name].score == pytest.approx(col.score, rel=1e-9), name


def test_bad_inputs_raise_clear_errors():
    ref, cur = frames(100, 100, 12)
    with pytest.raises(ValueError, match="reference data has no rows"):
        compute_drift(ref.iloc[:0], cur)
    with pytest.raises(ValueError, match="current data has no rows"):
        compute_drift(ref, cur.iloc[:0])
    with pytest.raises(ValueError, match=r"missing from reference data: \['nope'\]; from current data: \['nope'\]"):
        compute_drift(ref, cur, ["shifted", "nope"])
    with pytest.raises(ValueError, match=r"columns missing from reference data: \['extra'\]$"):
        compute_drift(ref, cur.assign(extra=1.0))
    with pytest.raises(ValueError, match="duplicated column names"):
        compute_drift(pd.concat([ref, ref[["stable"]]], axis=1), cur)
    with pytest.raises(ValueError, match="'shifted' is numeric in current data but holds non-numbers"):
        compute_drift(ref.assign(shifted="n/a"), cur)
    with pytest.raises(ValueError, match="drift_share"):
        compute_drift(ref, cur, drift_share=0.0)


def test_dataset_drift_uses_share_at_or_above_threshold_and_dict_is_plain_json():
    ref, cur = frames(500, 400, 13)
    result = compute_drift(ref, cur, ["shifted", "stable"])
    assert result.drifted_columns == ["shifted"] and result.drift_share == 0.5 and result.dataset_drift
    assert not compute_drift(ref, cur, ["shifted", "stable"], drift_share=0.51).dataset_drift
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(payload) == {"dataset_drift", "drift_share", "columns"}
    assert set(payload["columns"]["shifted"]) == {"score", "method", "threshold", "drifted"}
    assert type(payload["columns"]["shifted"]["drifted"]) is bool


def test_label_drift_uses_a_significance_test_at_any_size():
    from ops_pipelines.lib.mlops.drift import label_drift

    rng = np.random.default_rng(5)
    ref = pd.Series((rng.random(12_000) < 0.35).astype(int), name="label")
    moved = pd.Series((rng.random(12_000) < 0.41).astype(int), name="label")  # JS distance ~0.04: below 0.1
    same = pd.Series((rng.random(12_000) < 0.35).astype(int), name="label")
    assert label_drift(ref, moved).drifted and label_drift(ref, moved).method == "z"
    assert not label_drift(ref, same).drifted
    three = pd.Series(rng.choice(["a", "b", "c"], 5000), name="label")
    assert label_drift(three, three.sample(frac=1, random_state=1)).method == "chisquare"
