"""LLM labels match their configured rates and look real; the inventory shift causes drift and decay."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.sim.llm_text import iban_valid, luhn_valid
from tests.lib.sim import sim_readers as rd

NUMBER = re.compile(r"\d+(?:[.:-]\d+)*")


@pytest.fixture(scope="module")
def labelled(world14, traces14):
    labels = pd.DataFrame(rd.ground_truth(world14.root, "llm_labels.jsonl"))
    assert set(labels.columns) >= {"trace_id", "hallucinated", "toxic", "pii_leak", "refusal", "pii_kinds"}
    return traces14.merge(labels, on="trace_id", validate="one_to_one")


def test_label_shares_are_near_the_configured_rates(labelled, truth14):
    ok = labelled[labelled["status"] == "ok"]
    for version, spec in truth14["llm_app"]["prompt_versions"].items():
        sub = ok[ok["prompt_version"] == version]
        assert len(sub) > 3000
        for label in ("hallucination", "toxic", "pii_leak", "refusal", "rude"):
            rate = spec[f"{label}_rate"]
            column = "hallucinated" if label == "hallucination" else label
            tolerance = max(0.006, 4 * np.sqrt(rate * (1 - rate) / len(sub)))
            assert abs(sub[column].mean() - rate) < tolerance, (version, label, sub[column].mean(), rate)
    v1, v2 = (ok[ok["prompt_version"] == v]["hallucinated"].mean() for v in ("support-v1", "support-v2"))
    assert v1 > v2 + 0.04
    assert not labelled.loc[labelled["status"] != "ok", ["hallucinated", "toxic", "pii_leak", "refusal", "rude"]].any().any()


def test_grounded_answers_only_state_facts_from_their_contexts(labelled):
    clean = labelled[(labelled["status"] == "ok") & ~labelled["hallucinated"] & ~labelled["pii_leak"]]
    unsupported = clean.apply(lambda r: set(NUMBER.findall(r["answer"])) - set(NUMBER.findall(" ".join(r["contexts"]))),
                              axis=1)
    assert (unsupported.map(len) == 0).all()


def test_hallucinations_change_facts_not_markers(labelled):
    halluc = labelled[labelled["hallucinated"]]
    swapped = halluc[halluc["hallucination_kind"] == "swapped_fact"]
    invented = halluc[halluc["hallucination_kind"] == "invented_claim"]
    assert len(swapped) > 3 * len(invented) / 2 > 0
    # A swapped fact is a value that is not in the retrieved passages (most are numbers).
    new_numbers = swapped.apply(
        lambda r: bool(set(NUMBER.findall(r["answer"])) - set(NUMBER.findall(" ".join(r["contexts"])))), axis=1)
    assert new_numbers.mean() > 0.6
    # No giveaway: hallucinated answers are not systematically longer than grounded ones.
    ok = labelled[(labelled["status"] == "ok") & ~labelled["refusal"]]
    lengths = ok.groupby("hallucinated")["answer"].apply(lambda s: s.str.len().median())
    assert lengths[True] < 1.25 * lengths[False]


def test_pii_toxic_and_refusal_text(labelled, truth14):
    pii = labelled[labelled["pii_leak"]]
    kinds = pii["pii_kinds"].map(lambda k: k[0])
    assert set(kinds) == {"email", "phone", "card", "iban", "ip"}
    for answer in pii.loc[kinds == "card", "answer"]:
        assert luhn_valid(re.search(r"4\d{3} ?\d{4} ?\d{4} ?\d{4}", answer)[0])
    for answer in pii.loc[kinds == "iban", "answer"]:
        assert iban_valid(re.search(r"DE\d\d(?: ?\d{4}){4} ?\d\d", answer)[0])
    assert pii.loc[kinds == "email", "answer"].str.contains(r"[\w.]+@[\w.]+\.\w+").all()
    assert labelled.loc[~labelled["pii_leak"] & (labelled["status"] == "ok"), "answer"].str.contains("@").sum() == 0
    refusals = labelled[labelled["refusal"]]["answer"]
    assert refusals.str.contains(r"sorry|not able", case=False).all()
    toxic = labelled[labelled["toxic"]]["answer"]
    assert toxic.str.contains(r"dumb|idiot|read the policy|paying attention", case=False).all()


def test_llm_cost_profile_per_model(truth14, labelled):
    models = truth14["llm_app"]["models"]
    assert models["sage-large"]["price_per_1k_output"] > 5 * models["swift-small"]["price_per_1k_output"]
    sys_tokens = labelled.groupby("prompt_version")["input_tokens"].median()
    assert sys_tokens["support-v2"] > sys_tokens["support-v1"]


@pytest.fixture(scope="module")
def phases(events14, truth14):
    events = events14.dropna(subset=["user_id", "price"])
    day = events["timestamp"].dt.date.astype(str)
    # Drop what ingestion would quarantine: non-finite prices, conflicting ids, rows outside their day.
    events = events[np.isfinite(events["price"]) & (day == events["folder"])].drop_duplicates("event_id", keep=False)
    day = events["folder"]
    shift = truth14["shift_date"]
    days = sorted(day.unique())
    return events[day < days[8]], events[(day >= days[8]) & (day < shift)], events[day >= shift]


def test_inventory_shift_drifts_features(phases):
    train, holdout, post = phases
    pre = pd.concat([train, holdout])
    new = set(post["category"]) - set(pre["category"])
    assert len(new) >= 2 and post["category"].isin(new).mean() > 0.1
    assert post["price"].median() > 1.2 * pre["price"].median()
    # Inside the pre-shift period there is no such drift.
    assert abs(holdout["price"].median() / train["price"].median() - 1) < 0.05


def _features(frame: pd.DataFrame, columns: pd.Index | None = None) -> pd.DataFrame:
    x = pd.DataFrame({"log_price": np.log(frame["price"]), "log_position": np.log(frame["position"]),
                      "popularity": frame["item_popularity"]}, index=frame.index)
    x = pd.concat([x, pd.get_dummies(frame[["category", "user_segment", "device", "country"]]).astype(float)], axis=1)
    return x if columns is None else x.reindex(columns=columns, fill_value=0.0)


def test_model_trained_before_the_shift_loses_accuracy_after_it(phases):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    train, holdout, post = phases
    x_train = _features(train)
    model = LogisticRegression(max_iter=500).fit(x_train, train["clicked"])
    auc_pre = roc_auc_score(holdout["clicked"], model.predict_proba(_features(holdout, x_train.columns))[:, 1])
    auc_post = roc_auc_score(post["clicked"], model.predict_proba(_features(post, x_train.columns))[:, 1])
    assert auc_pre > 0.65
    assert auc_pre - auc_post > 0.08, (auc_pre, auc_post)
