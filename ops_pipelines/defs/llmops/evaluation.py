"""Offline evaluation of every LLM trace, and the daily quality table people watch."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.resources.llmops_config import LLMOpsConfig


@dg.asset(partitions_def=daily_partitions, group_name="llmops", kinds={"pandas", "parquet"})
def llm_eval_scores(llm_traces, llmops_config: LLMOpsConfig):
    """One row per trace, scored offline with no API key: groundedness and hallucination,
    relevance, refusal, toxicity, PII found (the stored answer is redacted), format validity,
    reference scores when a reference exists, tokens (estimated when missing) and cost."""
    from ops_pipelines.lib.llmops.scores import score_traces

    scores = score_traces(llm_traces, llmops_config.prices(), llmops_config.templates())
    answered = scores[scores["status"] == "ok"]
    rate = lambda col: float(answered[col].astype(bool).mean()) if len(answered) else 0.0  # noqa: E731
    return dg.Output(scores, metadata={
        "dagster/row_count": len(scores),
        "hallucination_rate": rate("hallucinated"),
        "toxicity_rate": rate("toxic"),
        "pii_rate": rate("pii_found"),
        "refusal_rate": rate("refusal"),
        "cost_usd": float(scores["cost_usd"].sum()),
        "tokens_estimated": int(scores["tokens_estimated"].sum()),
    })


@dg.asset(partitions_def=daily_partitions, group_name="llmops", kinds={"pandas", "parquet"})
def llm_quality_daily(llm_eval_scores):
    """Per app, model and prompt version: hallucination, toxicity, PII, refusal and error rates,
    latency p50/p95/p99, tokens, cost per response and per day."""
    from ops_pipelines.lib.llmops.quality import quality_daily

    table = quality_daily(llm_eval_scores)
    answered = llm_eval_scores[llm_eval_scores["status"] == "ok"]
    return dg.Output(table, metadata={
        "dagster/row_count": len(table),
        "responses": int(len(llm_eval_scores)),
        "cost_usd": float(table["cost_usd"].sum()) if len(table) else 0.0,
        "cost_per_response_usd": float(table["cost_usd"].sum() / max(len(llm_eval_scores), 1)) if len(table) else 0.0,
        "latency_p95_ms": float(llm_eval_scores["latency_ms"].quantile(0.95)) if len(llm_eval_scores) else 0.0,
        "hallucination_rate": float(answered["hallucinated"].astype(bool).mean()) if len(answered) else 0.0,
        "table": dg.MetadataValue.md(table.round(4).to_markdown(index=False) if len(table) else "no traces"),
    })


@dg.asset(partitions_def=daily_partitions, group_name="llmops", kinds={"pandas", "parquet"})
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
    group_name="llmops",
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
