import math

import pandas as pd
import pytest

from ops_pipelines.lib.llmops.cost import (
    cost_usd,
    estimate_tokens,
    fill_tokens,
    price_at,
)
from ops_pipelines.lib.llmops.format import format_valid
from ops_pipelines.lib.llmops.groundedness import groundedness
from ops_pipelines.lib.llmops.pii import find_pii, iban_valid, luhn_valid, redact
from ops_pipelines.lib.llmops.reference import exact_match, rouge_l, token_f1
from ops_pipelines.lib.llmops.relevance import is_refusal, relevance
from ops_pipelines.lib.llmops.toxicity import toxicity_probs


def test_luhn_valid_card_found_invalid_one_not():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert [k for k, _ in find_pii("card 4111-1111-1111-1111 on file")] == ["card"]
    assert find_pii("card 4111 1111 1111 1112 on file") == []


def test_iban_checksum():
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")
    assert [k for k, _ in find_pii("pay to GB82 WEST 1234 5698 7654 32 today")] == ["iban"]
    assert find_pii("pay to GB83 WEST 1234 5698 7654 32 today") == []


def test_redaction_leaves_no_pii():
    text = ("Write to jan.devries7@post.example or call +49 30 4567891, (415) 555-0100; card 4111 1111 1111 1111, "
            "IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, hosts 203.0.113.9 and 2001:db8::1.")
    kinds = {k for k, _ in find_pii(text)}
    assert kinds == {"email", "phone", "card", "iban", "ssn", "ip"}
    clean = redact(text)
    assert find_pii(clean) == []
    for secret in ("jan.devries7", "4567891", "555-0100", "4111", "3704", "123-45", "203.0.113.9", "2001:db8"):
        assert secret not in clean


def test_ordinary_numbers_are_not_pii():
    assert find_pii("Order ord-12345678 ships in 3-5 days for 4.95 EUR before 14:00, version 1.2.3.") == []


CONTEXTS = ["Most items can be returned within 30 days of delivery for a full refund.",
            "Standard shipping takes 3-5 business days.",
            "Express shipping delivers in 1-2 business days for orders placed before 14:00 CET."]


def test_faithful_answer_grounded_number_swap_not():
    faithful = "Happy to help. Standard shipping takes 3-5 business days, and express shipping delivers in 1-2 business days."
    swapped = "Standard shipping takes 1-2 business days."  # the number exists, but for another claim
    invented = "You can return items within 90 days of delivery."
    assert groundedness(faithful, CONTEXTS) == 1.0
    assert groundedness(swapped, CONTEXTS) == 0.0
    assert groundedness(invented, CONTEXTS) == 0.0
    assert groundedness("We also deliver on Sundays to Antarctica.", CONTEXTS) < 0.5


def test_refusal_detection_and_groundedness():
    for text in ("I'm sorry, I can't help with that.", "Unfortunately I'm not able to help with that.",
                 "I cannot help with requests like this.", "As an AI language model, I do not have opinions."):
        assert is_refusal(text), text
    assert not is_refusal("Sorry for the wait! Standard shipping takes 3-5 business days.")
    assert not is_refusal("You cannot return opened software.")
    assert groundedness("I'm sorry, I can't help with that.", CONTEXTS) == 1.0


def test_relevance_orders_answers():
    q = "How long does standard shipping take?"
    assert relevance(q, "Standard shipping takes 3-5 business days.") > relevance(q, "Gift cards never expire.")


def test_reference_scores_hand_computed():
    # prediction tokens: cat sat on mat; reference: cat is on mat (articles dropped)
    assert exact_match("The cat sat on the mat.", "the cat sat on the mat") == 1.0
    # common = {cat, on, mat} = 3; P = 3/4, R = 3/4 -> F1 0.75
    assert token_f1("the cat sat on the mat", "the cat is on the mat") == pytest.approx(0.75)
    # LCS(a b c d e, a c e f) = a c e = 3; P = 3/5, R = 3/4 -> F = 2*0.6*0.75/1.35
    assert rouge_l("a1 b1 c1 d1 e1", "a1 c1 e1 f1") == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert rouge_l("x y", "z w") == 0.0


PRICES = {"m": [{"version": "v1", "effective_from": "2026-01-01", "input_per_1k": 1.0, "output_per_1k": 2.0},
                {"version": "v2", "effective_from": "2026-03-01", "input_per_1k": 0.5, "output_per_1k": 1.0}]}


def test_cost_picks_price_version_in_effect():
    ts = pd.Series(pd.to_datetime(["2025-12-31T23:00Z", "2026-02-28T23:59Z", "2026-03-01T00:00Z"], utc=True))
    cost = cost_usd(pd.Series(["m", "m", "m"]), ts, pd.Series([1000.0] * 3), pd.Series([500.0] * 3), PRICES)
    assert math.isnan(cost[0])
    assert cost[1] == pytest.approx(1.0 + 1.0)  # v1: 1000*1/1k + 500*2/1k
    assert cost[2] == pytest.approx(0.5 + 0.5)  # v2
    assert price_at(PRICES, "m", pd.Timestamp("2026-02-01", tz="UTC"))["version"] == "v1"
    assert math.isnan(cost_usd(pd.Series(["other"]), ts[:1], pd.Series([1.0]), pd.Series([1.0]), PRICES)[0])


def test_missing_tokens_estimated_and_flagged():
    frame = pd.DataFrame({"question": ["abcd" * 5], "contexts": [["x" * 39]], "answer": ["y" * 8],
                          "input_tokens": [float("nan")], "output_tokens": [7.0]})
    tokens = fill_tokens(frame)
    # input text = question + " " + context = 20 + 1 + 39 = 60 chars -> 15 tokens
    assert tokens.loc[0, "input_tokens"] == 15 == estimate_tokens("z" * 60)
    assert tokens.loc[0, "output_tokens"] == 7.0 and bool(tokens.loc[0, "tokens_estimated"])


def test_format_valid_with_schema_only():
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
    assert format_valid('{"answer": "yes"}', schema) is True
    assert format_valid('```json\n{"answer": "yes"}\n```', schema) is True
    assert format_valid('{"answer": 3}', schema) is False
    assert format_valid("not json", schema) is False
    assert format_valid("anything", None) is None


def test_toxicity_classifier_separates_insult():
    probs = toxicity_probs(["You are a stupid idiot.", "Your parcel ships tomorrow.", None])
    assert probs[0] >= 0.5 > probs[1] and math.isnan(probs[2])
