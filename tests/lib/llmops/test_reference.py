"""Reference scores: semantic similarity is NaN without the embeddings extra (documented)."""

import math

import pytest

from ops_pipelines.lib.llmops import embeddings
from ops_pipelines.lib.llmops.reference import (
    rouge_l,
    semantic_similarity_many,
    token_f1,
)


def test_semantic_similarity_nan_without_extra(monkeypatch):
    monkeypatch.setattr(embeddings, "available", lambda: False)
    monkeypatch.setattr(embeddings, "_model", lambda: pytest.fail("model loaded without the extra"))
    sim = semantic_similarity_many(["Refunds take 5 days.", None], ["Refunds take 5 days.", "x"])
    assert len(sim) == 2 and all(math.isnan(s) for s in sim)
    assert all(math.isnan(s) for s in semantic_similarity_many(["a"], ["a"], method="lexical"))


def test_semantic_similarity_length_mismatch():
    with pytest.raises(ValueError, match="predictions but"):
        semantic_similarity_many(["a", "b"], ["a"], method="lexical")


def test_lexical_reference_scores_on_empty_and_duplicated_tokens():
    assert token_f1("", "") == 1.0 and token_f1("a cat", "") == 0.0
    # duplicated tokens count once per occurrence: common = min(3, 1) = 1; P = 1/3, R = 1 -> F1 0.5
    assert token_f1("cat cat cat", "cat") == pytest.approx(0.5)
    assert rouge_l("cat cat cat", "cat") == pytest.approx(0.5)
