"""The deterministic sample world: an online shop, its platform telemetry and its ML/LLM traffic."""

from .world import DEFAULT_START, SimSummary, simulate_world

__all__ = ["DEFAULT_START", "SimSummary", "simulate_world"]
