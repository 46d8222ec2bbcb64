"""Offline evaluation of every LLM trace, and the daily quality table people watch."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig


@dg.asset(partitions_def=daily_partitions, group_name="llmops", owners=["team:llmops"], kinds={"pandas", "parquet"})
def llm_eval_scores(llm_traces, llmops_config: LLMOpsConfig, llm_judge: LLMJudge):
    """One row per trace, scored offline with no API key: groundedness and hallucination,
    relevance, refusal, toxicity, rudeness, PII found (the stored answer is redacted), format validity,
    reference scores when a reference exists, tokens (estimated when missing) and cost.
    With the optional LLM judge on, also `judge_*` columns from an OpenAI-compatible endpoint."""
    from ops_pipelines.lib.llmops.scores import score_traces

    scores = score_traces(llm_traces, llmops_config.prices(), llmops_config.templates())
    judge_meta = {}
    if llm_judge.enabled:
        from ops_pipelines.lib.llmops import judge

        judged = llm_judge.judge(llm_traces)
        scores = judge.merge_judged(scores, judged)
        judge_meta = {**judge.judge_summary(judged), "judge_model": llm_judge.judge_config().model,
                      "judge_prompt_version": judge.JUDGE_PROMPT_VERSION}
    answered = scores[scores["status"] == "ok"]
    # Rows without a verdict (no context, an empty answer) are left out of a rate, not counted as "no".
    rate = lambda col: float(answered[col].astype("boolean").mean()) if answered[col].notna().any() else 0.0
    return dg.Output(scores, metadata={
        "dagster/row_count": len(scores),
        "hallucination_rate": rate("hallucinated"),
        "toxicity_rate": rate("toxic"),
        "rudeness_rate": rate("rude"),
        "pii_rate": rate("pii_found"),
        "refusal_rate": rate("refusal"),
        "cost_usd": float(scores["cost_usd"].sum()),
        "tokens_estimated": int(scores["tokens_estimated"].sum()),
        **judge_meta,
    })


@dg.asset(
    partitions_def=daily_partitions,
    group_name="llmops", owners=["team:llmops"],
    kinds={"pandas", "parquet"},
    check_specs=[
        # Not a blocking check: that would also skip the day's health report. prompt_promotion applies
        # the same breaches() and blocks the candidate itself, with the breach as the reason.
        dg.AssetCheckSpec("candidate_prompts_within_guardrails", asset="llm_quality_daily",
                          description="Candidate prompt versions stay within every guardrail limit; a breach blocks their promotion."),
        dg.AssetCheckSpec("production_prompts_within_guardrails", asset="llm_quality_daily",
                          description="Production prompt versions stay within every guardrail limit."),
        dg.AssetCheckSpec("daily_budget_respected", asset="llm_quality_daily",
                          description="The day's LLM spend stays within the daily budget."),
    ],
)
def llm_quality_daily(llm_eval_scores, llmops_config: LLMOpsConfig):
    """Per app, model and prompt version: hallucination, toxicity, rudeness, PII, refusal and error rates,
    latency p50/p95/p99, tokens, cost per response and per day; checked against the guardrails."""
    from ops_pipelines.lib.llmops.guardrails import breaches, spend
    from ops_pipelines.lib.llmops.quality import quality_daily
    from ops_pipelines.lib.tidy_metadata import tidy

    table = quality_daily(llm_eval_scores)
    rails = llmops_config.guardrails()
    answered = llm_eval_scores[llm_eval_scores["status"] == "ok"]
    yield dg.Output(table, metadata=tidy({
        "dagster/row_count": len(table),
        "responses": len(llm_eval_scores),
        "cost_usd": spend(table),
        "cost_per_response_usd": spend(table) / max(len(llm_eval_scores), 1),
        "latency_p95_ms": float(llm_eval_scores["latency_ms"].quantile(0.95)) if len(llm_eval_scores) else 0.0,
        "hallucination_rate": float(answered["hallucinated"].astype("boolean").mean()) if answered["hallucinated"].notna().any() else 0.0,
        "table": dg.MetadataValue.md(table.round(4).to_markdown(index=False) if len(table) else "no traces"),
    }))
    for role in ("candidate", "production"):
        found = breaches(table, rails, role) if len(table) else []
        yield dg.AssetCheckResult(
            check_name=f"{role}_prompts_within_guardrails",
            passed=not found,
            severity=dg.AssetCheckSeverity.ERROR if role == "candidate" else dg.AssetCheckSeverity.WARN,
            metadata={"breaches": dg.MetadataValue.md("\n".join(f"- {b}" for b in found) or "none")},
        )
    spent = spend(table) if len(table) else 0.0
    yield dg.AssetCheckResult(check_name="daily_budget_respected", passed=spent <= rails.daily_budget_usd,
                              metadata={"spent_usd": spent, "budget_usd": rails.daily_budget_usd})


@dg.asset(partitions_def=daily_partitions, group_name="llmops", owners=["team:llmops"], kinds={"pandas", "parquet"})
def llm_kpi_series(llm_eval_scores):
    """LLM latency, error rate, cost per response and groundedness per app and model as 10-minute
    metric series: `metric_anomalies` watches them with the same detector as CPU and p95 latency,
    so a provider slowdown or a cost spike becomes an incident like any other."""
    from ops_pipelines.lib.llmops.kpis import kpi_series

    series = kpi_series(llm_eval_scores)
    return dg.Output(series, metadata={
        "dagster/row_count": len(series),
        "series": int(series.groupby(["service", "metric", "host"], observed=True).ngroups) if len(series) else 0,
    })


@dg.asset(
    partitions_def=daily_partitions,
    group_name="llmops", owners=["team:llmops"],
    kinds={"pandas", "parquet"},
    ins={"llm_eval_scores": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-6, end_offset=0))},
)
def prompt_version_comparison(llm_eval_scores):
    """Prompt versions compared on the last 7 days of comparable traffic (same app and model): for
    each metric the difference with a 95% bootstrap interval, and which version is better, or that
    the data cannot tell yet."""
    from ops_pipelines.lib.llmops.compare import compare_versions

    table = compare_versions(llm_eval_scores)
    decided = table[table["better"].notna()]
    shown = table[["app", "version_a", "version_b", "metric", "value_a", "value_b", "ci_low", "ci_high", "verdict"]]
    return dg.Output(table, metadata={
        "dagster/row_count": len(table),
        "decided": len(decided),
        "undecided": int(table["better"].isna().sum()),
        "comparison": dg.MetadataValue.md(shown.round(4).to_markdown(index=False) if len(table) else "one prompt version only"),
    })


@dg.asset(partitions_def=daily_partitions, group_name="llmops", owners=["team:llmops"], kinds={"pandas"})
def prompt_promotion(prompt_version_comparison, llm_quality_daily, llmops_config: LLMOpsConfig):
    """The promotion decision for each candidate prompt version, with its reason: blocked when the
    day's candidate guardrail check finds a breach, else decided on the comparison."""
    from ops_pipelines.lib.llmops.guardrails import breaches, promotion_decisions

    rails = llmops_config.guardrails()
    blocked = breaches(llm_quality_daily, rails, "candidate") if len(llm_quality_daily) else []
    decisions = promotion_decisions(prompt_version_comparison, rails, blocked)
    lines = [f"- **{r.prompt_version}**: {r.decision} ({r.reason})" for r in decisions.itertuples()]
    return dg.Output(decisions, metadata={
        "promoted": int((decisions["decision"] == "promote").sum()),
        "decisions": dg.MetadataValue.md("\n".join(lines) or "no candidate prompt versions"),
    })
