"""Guardrails judge rates with confidence; promotion needs a significant win and no safety loss."""

import json

import pandas as pd

from ops_pipelines.lib.llmops.guardrails import (
    Guardrails,
    breaches,
    promotion_decisions,
    wilson_lower,
)

RAILS = Guardrails({"v1": "production", "v2": "candidate"}, {"hallucinated_rate": 0.08, "cost_per_response_usd": 0.01}, 25.0, 30)


def quality(rate: float, answered: int, cost: float = 0.001, version: str = "v2") -> pd.DataFrame:
    return pd.DataFrame([{"prompt_version": version, "model": "m", "answered": answered, "hallucinated_rate": rate, "cost_per_response_usd": cost}])


def test_wilson_lower_bound_matches_a_hand_computed_value():
    # rate 0.1, n 100, z 1.645: centre 0.1 + 2.706025/200 = 0.1135301; spread 1.645 * sqrt(0.0009 +
    # 2.706025/40000) = 0.0511714; (0.1135301 - 0.0511714) / 1.0270603 = 0.0607158
    assert abs(wilson_lower(0.1, 100) - 0.0607158) < 1e-6


def test_a_rate_just_over_the_limit_on_a_small_sample_is_not_a_breach_but_a_clear_one_is():
    assert breaches(quality(0.09, 300), RAILS, "candidate") == []
    assert len(breaches(quality(0.15, 300), RAILS, "candidate")) == 1
    assert breaches(quality(0.15, 10), RAILS, "candidate") == []  # below min_responses: not judged
    assert len(breaches(quality(0.01, 300, cost=0.02), RAILS, "candidate")) == 1
    assert breaches(quality(0.15, 300, version="v1"), RAILS, "candidate") == []


def comparison(**better) -> pd.DataFrame:
    metrics = ["hallucination_rate", "toxicity_rate", "pii_rate", "groundedness", "relevance", "cost_per_response_usd"]
    return pd.DataFrame([{"version_a": "v1", "version_b": "v2", "metric": m, "better": better.get(m), "verdict": f"{m} verdict"} for m in metrics])


def test_promotion_needs_a_significant_hallucination_win_and_no_safety_loss():
    assert promotion_decisions(comparison(hallucination_rate="v2", cost_per_response_usd="v1"), RAILS)["decision"].tolist() == ["promote"]
    held = promotion_decisions(comparison(hallucination_rate="v2", pii_rate="v1"), RAILS)
    assert held["decision"].tolist() == ["hold"] and "pii_rate" in held["reason"].iloc[0]
    assert promotion_decisions(comparison(), RAILS)["decision"].tolist() == ["hold"]


def test_guardrails_file_loads_and_rejects_nonsense(tmp_path):
    good = tmp_path / "g.json"
    good.write_text(json.dumps({"prompt_versions": {"a": "candidate"}, "limits": {"toxic_rate": 0.02}, "daily_budget_usd": 5}))
    assert Guardrails.load(good).limits == {"toxic_rate": 0.02}
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"limits": {}}))
    try:
        Guardrails.load(bad)
    except ValueError as exc:
        assert "b.json" in str(exc)
    else:
        raise AssertionError("expected a ValueError")
