"""LLMOps input: traces of the LLM applications we watch."""

from ops_pipelines.factories.ingestion import ingestion_asset

llm_traces = ingestion_asset(
    "llm_traces",
    group="llmops",
    description="One row per LLM call: question, retrieved contexts, answer, model, prompt version, tokens, latency, status.",
)
