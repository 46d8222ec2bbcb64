"""Numbers about an ingested partition that people watch in the UI."""

from __future__ import annotations

import pandas as pd


def describe(kind: str, rows: pd.DataFrame) -> dict[str, float | int | str]:
    """Time range plus a few per-kind counts (series, levels, models, click rate, change kinds)."""
    out: dict[str, float | int | str] = {}
    if len(rows):
        out["first_timestamp"] = rows["timestamp"].min().isoformat()
        out["last_timestamp"] = rows["timestamp"].max().isoformat()
    if kind == "metrics":
        out["series"] = int(rows.groupby(["service", "metric", "host"], observed=True).ngroups) if len(rows) else 0
        out["services"] = int(rows["service"].nunique())
    elif kind == "logs":
        levels = rows["level"].astype(str).value_counts() if len(rows) else pd.Series(dtype=int)
        out.update({f"level/{lvl}": int(levels.get(lvl, 0)) for lvl in ("DEBUG", "INFO", "WARN", "ERROR")})
    elif kind == "llm_traces":
        out["models"] = int(rows["model"].nunique())
        out["prompt_versions"] = int(rows["prompt_version"].nunique())
    elif kind == "changes":
        by_kind = rows["kind"].astype(str).value_counts() if len(rows) else pd.Series(dtype=int)
        out.update({f"kind/{k}": int(n) for k, n in sorted(by_kind.items())})
        out["services"] = int(rows["service"].nunique()) if len(rows) else 0
    elif kind == "model_events" and len(rows) and "clicked" in rows:
        out["click_rate"] = float(rows["clicked"].mean())
    return out
