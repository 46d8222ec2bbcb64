"""Relevance: the lexical score, and the method switch when the embeddings extra is absent."""

import numpy as np
import pytest

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.relevance import relevance, relevance_many


@pytest.fixture
def no_extra(monkeypatch):
    monkeypatch.setattr(embeddings, "available", lambda: False)
    monkeypatch.setattr(embeddings, "_model", lambda: pytest.fail("model loaded on the lexical path"))


def test_lexical_relevance_hand_computed():
    # question stems {long, standard, shipp, take}; answer stems {standard, shipp, tak, 3, 5, busi, day}
    # ("take" is too short to strip, "takes" is not): shared 2 -> coverage 2/4, cosine 2 / (2 * sqrt(7)).
    got = relevance("How long does standard shipping take?", "Standard shipping takes 3-5 business days.")
    assert got == pytest.approx(0.5 * (2 / 4 + 2 / (2 * 7 ** 0.5)))
    assert relevance(None, "x y z") == 0.0 and relevance("What?", "") == 0.0


def test_many_without_extra_equals_lexical(no_extra):
    qs = ["How long does standard shipping take?", None, "Can I return it?", "Can I return it?"]
    ans = ["Standard shipping takes 3-5 business days.", "Anything", None, "Returns are accepted for 30 days."]
    many = relevance_many(qs, ans)
    assert many.tolist() == [relevance(q, a) for q, a in zip(qs, ans)]
    assert many[1] == 0.0 and many[2] == 0.0
    assert np.isfinite(many).all()


def test_many_rejects_bad_input():
    with pytest.raises(ValueError, match="questions but"):
        relevance_many(["a"], ["b", "c"], method="lexical")
    with pytest.raises(ValueError, match="unknown relevance method"):
        relevance_many(["a"], ["b"], method="llm")
