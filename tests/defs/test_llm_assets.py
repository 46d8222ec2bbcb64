"""LLMOps assets on a small sample world: scores per trace, no raw PII stored, a daily quality table."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from ops_pipelines.defs.llmops.evaluation import llm_eval_scores, llm_quality_daily
from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.lib.llmops.pii import find_pii
from ops_pipelines.lib.sim import simulate_world
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig


def test_llm_assets_score_every_trace_and_store_no_pii(tmp_path):
    root = tmp_path / "landing"
    simulate_world(root, dt.date(2026, 3, 2), 1, seed=5)
    resources = {"landing_zone": LandingZone(root=str(root)), "io_manager": ParquetIOManager(base_dir=str(tmp_path / "s")),
                 "llmops_config": LLMOpsConfig(), "llm_judge": LLMJudge()}
    result = dg.materialize([llm_traces, llm_eval_scores, llm_quality_daily], partition_key="2026-03-02", resources=resources)
    assert result.success
    scores = pd.read_parquet(tmp_path / "s" / "llm_eval_scores" / "2026-03-02.parquet")
    traces = pd.read_parquet(tmp_path / "s" / "llm_traces" / "2026-03-02.parquet")
    assert sorted(scores["trace_id"]) == sorted(traces["trace_id"])
    assert "answer" not in scores.columns
    assert not any(find_pii(a) for a in scores["answer_redacted"].dropna())
    labels = {r["trace_id"]: r for r in map(json.loads, (root / "ground_truth" / "llm_labels.jsonl").read_text().splitlines())}
    leaked = [t for t in scores["trace_id"] if labels[t]["pii_leak"]]
    assert leaked and scores.set_index("trace_id").loc[leaked, "pii_found"].all()
    quality = pd.read_parquet(tmp_path / "s" / "llm_quality_daily" / "2026-03-02.parquet")
    assert quality["responses"].sum() == len(scores)
    assert set(quality["prompt_version"]) == set(traces["prompt_version"])
    meta = result.asset_materializations_for_node("llm_quality_daily")[0].metadata
    assert meta["responses"].value == len(scores) and meta["cost_usd"].value > 0


def test_prompt_comparison_on_the_sample_world_ranks_the_truly_better_version_first(tmp_path):
    from ops_pipelines.defs.llmops.evaluation import prompt_version_comparison

    root = tmp_path / "landing"
    simulate_world(root, dt.date(2026, 3, 2), 3, seed=7)
    world = json.loads((root / "ground_truth" / "world.json").read_text())
    versions = world["llm_app"]["prompt_versions"]
    best = min(versions, key=lambda name: versions[name]["hallucination_rate"])
    resources = {"landing_zone": LandingZone(root=str(root)), "io_manager": ParquetIOManager(base_dir=str(tmp_path / "s")),
                 "llmops_config": LLMOpsConfig(), "llm_judge": LLMJudge()}
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        assets = [llm_traces, llm_eval_scores, prompt_version_comparison]
        assert dg.materialize(assets, partition_key=day, resources=resources).success
    table = pd.read_parquet(tmp_path / "s" / "prompt_version_comparison" / "2026-03-04.parquet")
    hall = table[table["metric"] == "hallucination_rate"].iloc[0]
    assert hall["better"] == best
    assert hall["ci_high"] < 0 or hall["ci_low"] > 0
    assert hall["n_a"] + hall["n_b"] > 3000  # three days of traffic, not one



def _run_llm_days(tmp_path, days, guardrails=None):
    from ops_pipelines.defs.llmops.evaluation import (
        prompt_promotion,
        prompt_version_comparison,
    )

    root = tmp_path / "landing"
    simulate_world(root, dt.date(2026, 3, 2), len(days), seed=7)
    config = LLMOpsConfig(guardrails_path=str(guardrails)) if guardrails else LLMOpsConfig()
    resources = {"landing_zone": LandingZone(root=str(root)), "io_manager": ParquetIOManager(base_dir=str(tmp_path / "s")),
                 "llmops_config": config, "llm_judge": LLMJudge()}
    assets = [llm_traces, llm_eval_scores, llm_quality_daily, prompt_version_comparison, prompt_promotion]
    return [dg.materialize(assets, partition_key=d, resources=resources, raise_on_error=False) for d in days]


def test_the_better_candidate_is_promoted_when_guardrails_pass(tmp_path):
    results = _run_llm_days(tmp_path, ["2026-03-02", "2026-03-03"])
    checks = {c.check_name: c.passed for c in results[-1].get_asset_check_evaluations()}
    assert checks["candidate_prompts_within_guardrails"] is True
    decisions = pd.read_parquet(tmp_path / "s" / "prompt_promotion" / "2026-03-03.parquet")
    assert decisions[["prompt_version", "decision"]].values.tolist() == [["support-v2", "promote"]]


def test_a_guardrail_breach_blocks_the_promotion(tmp_path):
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"prompt_versions": {"support-v1": "production", "support-v2": "candidate"},
                                  "limits": {"hallucinated_rate": 0.001}, "daily_budget_usd": 25.0, "min_responses": 30}))
    (result,) = _run_llm_days(tmp_path, ["2026-03-02"], guardrails=strict)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["candidate_prompts_within_guardrails"].passed is False
    assert "support-v2" in checks["candidate_prompts_within_guardrails"].metadata["breaches"].value
    decisions = pd.read_parquet(tmp_path / "s" / "prompt_promotion" / "2026-03-02.parquet")
    assert decisions["decision"].tolist() == ["blocked"]
    assert "hallucinated_rate" in decisions["reason"].iloc[0]
    assert result.success  # the breach blocks the promotion, not the rest of the day's graph
