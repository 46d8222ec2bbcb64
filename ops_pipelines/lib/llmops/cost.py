"""Cost per trace from a versioned price table, with token counts estimated when missing.

Token estimate: ceil(characters / 4), the usual rule of thumb for English BPE tokenisers
(tiktoken would be exact for OpenAI models but needs a download). Input text = question plus
contexts; the system prompt is not in the trace, so an estimated input count is a lower bound.
Rows with an estimated count get `tokens_estimated = True`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CHARS_PER_TOKEN = 4.0
Prices = dict[str, list[dict[str, Any]]]


def load_prices(path: Path) -> Prices:
    """model -> price versions sorted by `effective_from` (each: version, effective_from, input_per_1k,
    output_per_1k in USD)."""
    data = json.loads(Path(path).read_text())
    return {model: sorted(versions, key=lambda v: v["effective_from"]) for model, versions in data["models"].items()}


def estimate_tokens(text: str | None) -> int:
    return math.ceil(len(text or "") / CHARS_PER_TOKEN)


def price_at(prices: Prices, model: str, when: pd.Timestamp) -> dict[str, Any] | None:
    """The price version in effect at `when` (latest effective_from <= when), None if none applies."""
    current = None
    for version in prices.get(model, []):
        if pd.Timestamp(version["effective_from"], tz="UTC") <= when:
            current = version
    return current


def fill_tokens(traces: pd.DataFrame) -> pd.DataFrame:
    """input_tokens, output_tokens (floats) and tokens_estimated, estimating missing counts."""
    def input_text(row: Any) -> str:
        ctx = [row.contexts] if isinstance(row.contexts, str) else row.contexts
        ctx = ctx if isinstance(ctx, (list, tuple, np.ndarray)) else []
        return " ".join([row.question or "", *map(str, ctx)])

    given_in = pd.to_numeric(traces["input_tokens"], errors="coerce")
    given_out = pd.to_numeric(traces["output_tokens"], errors="coerce")
    est_in = [estimate_tokens(input_text(r)) for r in traces[["question", "contexts"]].itertuples()]
    est_out = traces["answer"].map(lambda a: estimate_tokens(a if isinstance(a, str) else None))
    return pd.DataFrame({
        "input_tokens": given_in.fillna(pd.Series(est_in, index=traces.index, dtype=float)),
        "output_tokens": given_out.fillna(est_out.astype(float)),
        "tokens_estimated": given_in.isna() | given_out.isna(),
    }, index=traces.index)


def cost_usd(models: pd.Series, timestamps: pd.Series, input_tokens: pd.Series, output_tokens: pd.Series,
             prices: Prices) -> pd.Series:
    """USD per trace; NaN for a model without a price in effect at the trace time."""
    ts = pd.to_datetime(timestamps, utc=True).dt.as_unit("ns")
    out = pd.Series(np.nan, index=models.index)
    for model, versions in prices.items():
        rows = models == model
        if not rows.any() or not versions:
            continue
        starts = pd.to_datetime([v["effective_from"] for v in versions], utc=True).as_unit("ns")
        pos = np.searchsorted(starts.asi8, ts[rows].astype("int64").to_numpy(), side="right") - 1
        p_in = np.array([v["input_per_1k"] for v in versions] + [np.nan])[pos]  # pos -1 -> NaN
        p_out = np.array([v["output_per_1k"] for v in versions] + [np.nan])[pos]
        out[rows] = (input_tokens[rows].to_numpy() * p_in + output_tokens[rows].to_numpy() * p_out) / 1000.0
    return out
