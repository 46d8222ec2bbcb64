"""Rudeness: the shipped model file, the per-sentence scorer and how an answer's score is taken."""

import json
import math

import numpy as np
import pytest

from ops_pipelines.lib.llmops import rudeness as r
from ops_pipelines.lib.llmops.toxicity import TOXIC_THRESHOLD, toxicity_probs

FACTS = ("Standard shipping takes 3-5 business days. Express shipping delivers in 1-2 business days for orders "
         "placed before 14:00 CET. Most items can be returned within 30 days of delivery for a full refund.")


def test_shipped_model_is_json_with_its_training_data_named():
    doc = json.loads(r.MODEL_PATH.read_text())
    assert "Politeness Corpus" in doc["training_data"]["corpus"] and "CC BY 4.0" in doc["training_data"]["licence"]
    assert "ACL 2013" in doc["training_data"]["citation"]
    m = r.RudenessModel.load()
    assert len(m.weights) > 500 and 0.5 < m.threshold < 1.0
    # the cross-validated figure the issue asks for is recorded with the model
    assert doc["figures"]["cv_auc_shipped"] >= 0.80
    assert 0 < m.pair_weight < 1


def test_invalid_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"weights": {"w:x": "high"}, "intercept": 0, "threshold": 0.5}))
    with pytest.raises(ValueError, match="invalid rudeness model"):
        r.RudenessModel.load(bad)


def test_features_are_words_pairs_strategies_and_rude_wording():
    found = r.features("Obviously, you should have read the FAQ?")
    assert {"w:obviously", "b:should have", "w:?", "s:factuality", "s:second_person", "m:condescending",
            "m:blaming"} <= set(found)
    assert found == sorted(set(found)) == r.features("Obviously, you should have read the FAQ?")
    assert not [f for f in r.features("Standard shipping takes 3-5 business days.") if f.startswith("m:")]
    # the paper's positive / negative lexicon strategies, as VADER sentiment bins
    assert {"v:neg", "v:neg_strong"} <= set(r.features("This is a terrible, awful idea and I hate it."))
    assert {"v:pos", "v:pos_strong"} <= set(r.features("Great answer, thanks so much, I love it!"))
    assert not [f for f in r.features("Standard shipping takes 3-5 business days.") if f.startswith("v:")]


def test_rude_wording_scores_above_polite_and_neutral_text():
    m = r.RudenessModel.load()
    polite = "Could you please share your order number? Thanks a lot!"
    neutral = "Standard shipping takes 3-5 business days."
    for rude in ("Why would you even ask that? It's in the FAQ.", "Whatever. Figure it out yourself.",
                 "As I said, you should have checked the order page."):
        assert r.rudeness(rude) > r.rudeness(neutral) > r.rudeness(polite), rude
        assert r.rudeness(rude) >= m.threshold, rude
    assert r.rudeness(neutral) < m.threshold and r.rudeness(polite) < m.threshold


def test_a_rude_opener_stays_rude_however_long_the_rest():
    opener = "Seriously, read the policy before asking."
    alone, long = r.rudeness(opener), r.rudeness(f"{opener} {FACTS} {FACTS}")
    assert alone >= r.rude_threshold() and long >= r.rude_threshold()
    assert r.rudeness(FACTS) < r.rude_threshold()
    # the marker prior lifts rude wording; without it the learned weights alone score lower
    m = r.RudenessModel.load()
    assert m.text_prob(opener, boost=0.0) < m.text_prob(opener)


def test_the_neighbouring_sentence_counts_beside_the_rudest_one():
    m = r.RudenessModel.load()
    question = "Why did you change the config?"
    thanked = f"{question} Thanks a lot for your help!"
    assert r.rudeness(thanked) < r.rudeness(question)  # thanks in another sentence softens the request
    rudest_only = r.RudenessModel(m.weights, m.intercept, m.threshold, pair_weight=0.0)
    assert r.rudeness(thanked, rudest_only) == r.rudeness(question, rudest_only)


def test_rudeness_is_not_toxicity():
    curt = "You clearly didn't read the instructions."
    insult = "What a stupid question, any idiot knows this."
    tox = toxicity_probs([curt, insult])
    assert tox[0] < TOXIC_THRESHOLD <= tox[1]  # no insult: toxicity does not see it
    assert r.rudeness(curt) >= r.rude_threshold()


def test_missing_and_blank_texts_are_nan_and_batches_match_single_calls():
    texts = ["Whatever.", None, "   ", "Thanks for reaching out! Standard shipping takes 3-5 business days.", "Whatever.",
             "why " * 5000]  # a run-on text: no overflow
    got = r.rudeness_probs(texts)
    assert math.isnan(got[1]) and math.isnan(got[2])
    ok = [0, 3, 4, 5]
    assert got[ok].tolist() == [r.rudeness(texts[i]) for i in ok] and got[0] == got[4]
    assert ((got[ok] >= 0) & (got[ok] <= 1)).all() and np.isfinite(got[ok]).all()
