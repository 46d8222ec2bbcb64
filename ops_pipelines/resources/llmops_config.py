"""LLMOps config: the versioned price table and the prompt templates' declared output formats."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.settings import ASSETS_DIR


class LLMOpsConfig(dg.ConfigurableResource):
    """Paths to the price table and prompt templates; defaults are the sample world's."""

    prices_path: str = Field(default=str(ASSETS_DIR / "llmops" / "prices.json"))
    templates_path: str = Field(default=str(ASSETS_DIR / "llmops" / "prompt_templates.json"))
    guardrails_path: str = Field(default=str(ASSETS_DIR / "llmops" / "guardrails.json"))

    def prices(self):
        from ops_pipelines.lib.llmops.cost import load_prices

        return load_prices(Path(self.prices_path))

    def templates(self):
        from ops_pipelines.lib.llmops.format import load_templates

        return load_templates(Path(self.templates_path))

    def guardrails(self):
        from ops_pipelines.lib.llmops.guardrails import Guardrails

        return Guardrails.load(Path(self.guardrails_path))
