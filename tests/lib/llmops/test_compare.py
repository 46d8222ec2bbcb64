"""Prompt comparison: the truly better version wins with a CI that excludes zero; ties are undecided."""

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.compare import compare_versions


def traffic(rates: dict[tuple[str, str], float], n: int = 600, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for (model, version), rate in rates.items():
        frames.append(pd.DataFrame({
            "app": "support", "model": model, "prompt_version": version, "status": "ok",
            "hallucinated": rng.random(n) < rate, "toxic": False, "pii_found": False, "refusal": False,
            "groundedness": rng.normal(0.9, 0.05, n), "relevance": 0.8, "latency_ms": rng.normal(800, 50, n), "cost_usd": 0.001,
        }))
    return pd.concat(frames, ignore_index=True)


def row(result, metric):
    return result[result["metric"] == metric].iloc[0]


def test_the_better_prompt_wins_with_a_ci_that_excludes_zero():
    result = compare_versions(traffic({("m1", "v1"): 0.12, ("m1", "v2"): 0.05, ("m2", "v1"): 0.12, ("m2", "v2"): 0.05}))
    hall = row(result, "hallucination_rate")
    assert hall["better"] == "v2" and hall["ci_high"] < 0 < 0.12 - 0.05
    assert abs(hall["difference"] - (-0.07)) < 0.03


def test_identical_versions_cannot_be_told_apart():
    result = compare_versions(traffic({("m1", "v1"): 0.08, ("m1", "v2"): 0.08}, seed=3))
    hall = row(result, "hallucination_rate")
    assert hall["better"] is None and hall["ci_low"] < 0 < hall["ci_high"] and "cannot tell" in hall["verdict"]


def test_model_mix_is_not_credited_to_the_prompt():
    # v2 ran mostly on the cleaner model; within each model both versions are equally good
    data = pd.concat([
        traffic({("clean", "v1"): 0.02, ("noisy", "v1"): 0.20}, n=300, seed=4),
        traffic({("clean", "v2"): 0.02}, n=900, seed=5),
        traffic({("noisy", "v2"): 0.20}, n=60, seed=6),
    ], ignore_index=True)
    naive = data.groupby("prompt_version")["hallucinated"].mean()
    assert naive["v1"] - naive["v2"] > 0.05  # a plain comparison would crown v2
    assert row(compare_versions(data), "hallucination_rate")["better"] is None
