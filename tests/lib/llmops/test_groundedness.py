"""Groundedness with the embeddings extra forced absent: the lexical method, as before the extra."""

import math

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.groundedness import (
    claims,
    groundedness,
    groundedness_detail,
    groundedness_many,
    lexical_groundedness,
)

CONTEXTS = ["Most items can be returned within 30 days of delivery for a full refund.",
            "Standard shipping takes 3-5 business days.",
            "Express shipping delivers in 1-2 business days for orders placed before 14:00 CET."]


@pytest.fixture
def no_extra(monkeypatch):
    """The extra 'not installed': available() False, and any model call would fail the test."""
    monkeypatch.setattr(embeddings, "available", lambda: False)
    monkeypatch.setattr(embeddings, "_model", lambda: pytest.fail("model loaded on the lexical path"))


def test_lexical_path_hand_checked_cases(no_extra):
    assert embeddings.method() == "lexical"
    # two claims, both copied from the context (phatic opener skipped)
    faithful = "Happy to help. Standard shipping takes 3-5 business days, and express shipping delivers in 1-2 business days."
    assert groundedness(faithful, CONTEXTS) == 1.0
    assert groundedness("Standard shipping takes 1-2 business days.", CONTEXTS) == 0.0  # number of another claim
    assert groundedness("You can return items within 90 days of delivery.", CONTEXTS) == 0.0  # invented number
    # claim 1 (3 words: standard, shipping, 3-5... ) supported, claim 2 unsupported: share below 1
    mixed = "Standard shipping takes 3-5 business days. We also deliver on Sundays to Antarctica."
    detail = groundedness_detail(mixed, CONTEXTS)
    assert [d.support >= 0.5 for d in detail] == [True, False] and detail[1].reason == "entity"
    want = detail[0].weight / (detail[0].weight + detail[1].weight)
    assert detail[0].support == 1.0 and groundedness(mixed, CONTEXTS) == pytest.approx(want, abs=1e-4)
    # a partly supported claim: half share (supported, >= 0.5), half its support
    partial = "Standard shipping takes 3-5 business days for large parcels."
    (claim,) = groundedness_detail(partial, CONTEXTS)
    assert 0.5 <= claim.support < 1.0 and claim.reason is None
    assert groundedness(partial, CONTEXTS) == pytest.approx(0.5 * (1.0 + claim.support), abs=1e-4)


def test_lexical_many_equals_single_and_no_method_column_change(no_extra):
    answers = ["Standard shipping takes 3-5 business days.", None, "", "I'm sorry, I can't help with that.",
               "Express shipping delivers in 1-2 business days.", "Standard shipping takes 3-5 business days."]
    ctxs = [CONTEXTS, CONTEXTS, CONTEXTS, CONTEXTS, [], None]
    many = groundedness_many(answers, ctxs)
    assert many.tolist() == [lexical_groundedness(a, c) for a, c in zip(answers, ctxs)]
    assert many.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]  # no claim -> 1.0; claim without context -> 0.0


def test_lexical_duplicated_and_reordered_rows_score_alike(no_extra):
    answers = ["You can return items within 90 days.", "Standard shipping takes 3-5 business days."] * 2
    forward = groundedness_many(answers, [CONTEXTS] * 4)
    backward = groundedness_many(answers[::-1], [CONTEXTS[::-1]] * 4)[::-1]  # contexts reordered too
    assert forward.tolist() == backward.tolist() and forward[0] == forward[2]


def test_malformed_text_does_not_crash(no_extra):
    weird = ["\x00\ufffd ???", "!!!", "3.5.7,9 -- 1e400", "NaN inf", "Standard\nshipping\ntakes 3-5 business days"]
    g = groundedness_many(weird, [CONTEXTS] * len(weird))
    assert np.isfinite(g).all() and ((0 <= g) & (g <= 1)).all()
    assert claims("Is it free? Thanks!") == []  # a question and a thank-you assert nothing


def test_number_only_answer_is_checked_against_the_sentences_stating_numbers(no_extra):
    # "1-2" alone has no word to find its evidence by; it is in the third sentence, 7 is nowhere
    assert groundedness("1-2", CONTEXTS) == 1.0
    assert groundedness("30", CONTEXTS) == 1.0
    detail = groundedness_detail("7", CONTEXTS)
    assert detail[0].support == 0.0 and detail[0].reason == "number"


def test_tokenised_lower_case_text_splits_into_claims(no_extra):
    # tokenised, lower-cased generator output: " . " ends a sentence even before a lower-case word
    answer = "standard shipping takes 3-5 business days . express shipping delivers in 9 business days ."
    assert claims(answer) == ["standard shipping takes 3-5 business days .",
                              "express shipping delivers in 9 business days ."]
    # one claim per sentence: the wrong number sinks only its own claim, not the whole answer
    assert 0.0 < groundedness(answer, CONTEXTS) < 1.0
    assert claims("The U.S. team won. e.g. this") == ["The U.S. team won. e.g. this"]  # no split inside abbreviations


def test_unknown_word_placeholders_are_not_names(no_extra):
    # UNK / [UNK] / <unk> are a generator's unknown-word tokens, not invented proper names
    for placeholder in ("UNK", "[UNK]", "<unk>"):
        answer = f"Standard shipping takes 3-5 {placeholder} business days."
        assert groundedness(answer, CONTEXTS) == 1.0, placeholder
    assert groundedness("Standard shipping takes 3-5 business days via Unkcorp.", CONTEXTS) == 0.0  # a real name still counts


def test_unknown_method_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="unknown groundedness method"):
        groundedness_many(["a"], [CONTEXTS], method="magic")
    with pytest.raises(ValueError, match="context lists"):
        groundedness_many(["a", "b"], [CONTEXTS])


def test_score_traces_without_extra_is_lexical(no_extra):
    from ops_pipelines.lib.llmops.relevance import relevance
    from ops_pipelines.lib.llmops.scores import COLUMNS, score_traces

    frame = pd.DataFrame({
        "trace_id": ["a", "b", "c"], "timestamp": pd.to_datetime(["2026-03-02T10:00Z"] * 3, utc=True), "model": "m",
        "question": ["How long does standard shipping take?", None, "Return window?"],
        "contexts": [CONTEXTS, CONTEXTS, "Most items can be returned within 30 days of delivery."],
        "answer": ["Standard shipping takes 3-5 business days.", float("nan"), "Returns within 90 days."],
        "reference_answer": ["3-5 business days", None, "30 days"], "status": ["ok", "error", "ok"]})
    out = score_traces(frame, {}, {})
    assert list(out.columns) == COLUMNS
    assert out["groundedness_method"].tolist() == ["lexical", None, "lexical"]
    assert out["groundedness"].iloc[0] == 1.0 and math.isnan(out["groundedness"].iloc[1])
    assert out["groundedness"].iloc[2] == 0.0 and bool(out["hallucinated"].iloc[2])
    assert out["relevance"].iloc[0] == relevance("How long does standard shipping take?", frame["answer"][0])
    assert out["semantic_similarity"].isna().all()  # documented: no embeddings, no semantic similarity
