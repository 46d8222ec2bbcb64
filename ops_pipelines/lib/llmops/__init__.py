"""LLMOps scoring, Dagster-free: groundedness, relevance, refusals, toxicity, PII, cost, format and
reference scores for LLM traces, all computed offline (no API key, no network)."""
