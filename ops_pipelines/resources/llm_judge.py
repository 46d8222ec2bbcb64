"""The optional LLM judge: off by default; when on, `llm_eval_scores` asks an OpenAI-compatible
endpoint to grade every answered trace and adds `judge_*` columns."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines import settings


class LLMJudge(dg.ConfigurableResource):
    """Endpoint settings for the judge. Empty `base_url`/`model` fall back to OPS_LLM_JUDGE_BASE_URL
    and OPS_LLM_JUDGE_MODEL when the judge runs; the API key is read only from the environment
    variable named by `api_key_env`, so it never appears in run config."""

    enabled: bool = Field(default=False, description="Ask the judge; off means nothing is contacted.")
    base_url: str = Field(default="", description="e.g. http://127.0.0.1:8000/v1; empty: $OPS_LLM_JUDGE_BASE_URL")
    model: str = Field(default="", description="empty: $OPS_LLM_JUDGE_MODEL")
    api_key_env: str = Field(default="OPS_LLM_JUDGE_API_KEY", description="name of the variable holding the key")
    timeout_s: float = 20.0
    max_retries: int = 3
    backoff_s: float = 0.5
    max_concurrency: int = 4
    cache_dir: str = Field(default="", description="empty: <OPS_PIPELINES_HOME>/judge_cache")

    @classmethod
    def from_env(cls) -> "LLMJudge":
        """The registered instance: on when OPS_LLM_JUDGE_ENABLED is 1/true/yes (read when the code
        location loads), so scheduled runs can use the judge; run config can still override it."""
        return cls(enabled=os.environ.get("OPS_LLM_JUDGE_ENABLED", "").strip().lower() in {"1", "true", "yes"})

    def judge_config(self):
        """The lib-level config; raises ValueError naming the variables when no endpoint is set."""
        from ops_pipelines.lib.llmops.judge import JudgeConfig

        cache = Path(self.cache_dir) if self.cache_dir else settings.data_home() / "judge_cache"
        return JudgeConfig.from_env(cache_dir=cache, base_url=self.base_url or None, model=self.model or None,
                                    api_key_env=self.api_key_env, timeout_s=self.timeout_s,
                                    max_retries=self.max_retries, backoff_s=self.backoff_s,
                                    max_concurrency=self.max_concurrency)

    def judge(self, traces):
        """`judge_traces` over the traces frame with this resource's settings."""
        from ops_pipelines.lib.llmops.judge import judge_traces

        return judge_traces(traces, self.judge_config())
