"""The health report's plots as PNG bytes: matplotlib's Agg canvas, fixed size and dpi, no date.

`Figure` objects are built directly (no pyplot), so nothing depends on the process's backend or
global figure state, and the bundled DejaVu font keeps the pixels the same on every machine with
the same matplotlib.
"""

from __future__ import annotations

import io

import pandas as pd

DPI = 100
SEVERITY_COLOURS = {"critical": "#cf222e", "major": "#fb8500", "minor": "#d4a72c"}
OTHER_COLOUR = "#6e7781"
RC = {
    "svg.hashsalt": "ops_health_report",  # only matters for SVG, kept so a format switch stays deterministic
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def png(figure) -> bytes:
    """PNG bytes without the Software tag: the only metadata left is what the pixels need."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def new_figure(width: float, height: float, ncols: int = 1):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def draw(build, *args) -> bytes:
    import matplotlib

    with matplotlib.rc_context(RC):
        return png(build(*args))


def incident_timeline(found: pd.DataFrame, day: str) -> bytes:
    """One row per affected service, one bar per incident from start to end, coloured by severity."""
    return draw(_timeline, found, day)


def _timeline(found: pd.DataFrame, day: str):
    from matplotlib.patches import Patch

    start = pd.Timestamp(day, tz="UTC")
    services = sorted({s for row in found["affected_services"] for s in row})
    figure, (ax,) = new_figure(9, 0.9 + 0.35 * len(services))
    for row in found.itertuples():
        lo = max((row.start - start) / pd.Timedelta(hours=1), 0.0)
        hi = min((row.end - start) / pd.Timedelta(hours=1), 24.0)
        width = max(hi - lo, 0.1)  # a one-minute incident stays visible
        colour = SEVERITY_COLOURS.get(row.severity, OTHER_COLOUR)
        for service in row.affected_services:
            edge = "black" if service == row.root_cause else colour
            ax.barh(services.index(service), width, left=lo, height=0.6, color=colour, edgecolor=edge)
    ax.set_yticks(range(len(services)), services)
    ax.invert_yaxis()
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_xlabel(f"{day} (UTC); outlined bar = root cause")
    ax.set_title("Incidents by affected service")
    severities = sorted(set(found["severity"]), key=lambda s: (list(SEVERITY_COLOURS).index(s) if s in SEVERITY_COLOURS else 9, s))
    handles = [Patch(color=SEVERITY_COLOURS.get(s, OTHER_COLOUR), label=s) for s in severities]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return figure


def noise_funnel(noise: dict) -> bytes:
    """Anomalous points -> alerts -> incidents on a log scale (they differ by orders of magnitude)."""
    return draw(_funnel, noise)


def _funnel(noise: dict):
    figure, (ax,) = new_figure(6, 1.9)
    labels = ["anomalous points", "alerts", "incidents"]
    values = [noise["anomalous_points"], noise["alerts"], noise["incidents"]]
    ax.barh(range(3), [max(v, 0.8) for v in values], color=["#8c959f", "#fb8500", "#cf222e"])
    for i, value in enumerate(values):
        ax.text(max(value, 0.8) * 1.08, i, f"{value:,.0f}", va="center")
    ax.set_xscale("log")
    ax.set_xlim(0.7, max(max(values), 1) * 4)
    ax.set_yticks(range(3), labels)
    ax.invert_yaxis()
    ax.set_title(f"Alert noise: {noise['compression']:.1%} of anomalous points compressed away")
    return figure


def anomalies_per_hour(hourly: pd.DataFrame, top: int = 6) -> bytes:
    """Stacked anomalies per UTC hour for the noisiest services (the rest as 'other')."""
    return draw(_hours, hourly, top)


def _hours(hourly: pd.DataFrame, top: int):
    import matplotlib

    totals = hourly.groupby("service")["anomalies"].sum().sort_values(ascending=False, kind="stable")
    keep = [s for s in totals.index[:top] if totals[s] > 0]
    frame = hourly.assign(service=hourly["service"].where(hourly["service"].isin(keep), "other"))
    table = frame.pivot_table(index="hour", columns="service", values="anomalies", aggfunc="sum", fill_value=0)
    table = table.reindex(index=range(24), fill_value=0)
    order = keep + (["other"] if "other" in table.columns else [])
    figure, (ax,) = new_figure(9, 2.6)
    colours = matplotlib.colormaps["tab10"]
    bottom = pd.Series(0.0, index=table.index)
    for i, service in enumerate(order):
        colour = OTHER_COLOUR if service == "other" else colours(i)
        ax.bar(table.index, table[service], bottom=bottom, color=colour, label=service, width=0.85)
        bottom += table[service]
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("anomalous points")
    ax.set_title("Anomalies per hour")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return figure


def llm_quality(llm: pd.DataFrame) -> bytes:
    """Hallucination rate, cost per response and latency p95 per prompt version, one bar per model."""
    return draw(_llm, llm)


def _llm(llm: pd.DataFrame):
    import matplotlib

    versions = sorted(llm["prompt_version"].unique())
    models = sorted(llm["model"].unique())
    panels = [("hallucinated_rate", "hallucination rate", 100.0, "%"), ("cost_per_response_usd", "cost per response", 1.0, "$"),
              ("latency_p95_ms", "latency p95", 1.0, "ms")]
    figure, axes = new_figure(10, 2.8, ncols=len(panels))
    colours = matplotlib.colormaps["tab10"]
    width = 0.8 / max(len(models), 1)
    # Several apps can share a prompt version and model: their rows are averaged, weighted by responses.
    weights = llm["responses"].fillna(0).clip(lower=0)
    for ax, (column, title, scale, unit) in zip(axes, panels):
        values = pd.to_numeric(llm[column], errors="coerce") if column in llm.columns else pd.Series(float("nan"), index=llm.index)
        frame = llm.assign(value=values * scale, weight=weights.where(values.notna(), 0))
        frame["weighted"] = frame["value"].fillna(0) * frame["weight"]
        grouped = frame.groupby(["prompt_version", "model"])[["weighted", "weight"]].sum()
        for j, model in enumerate(models):
            heights = [grouped.loc[(v, model), "weighted"] / grouped.loc[(v, model), "weight"]
                       if (v, model) in grouped.index and grouped.loc[(v, model), "weight"] > 0 else 0.0 for v in versions]
            ax.bar([i + (j - (len(models) - 1) / 2) * width for i in range(len(versions))], heights, width=width,
                   color=colours(j), label=model)
        ax.set_xticks(range(len(versions)), versions, rotation=20 if len(versions) > 3 else 0)
        ax.set_title(f"{title} ({unit})")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="model")
    return figure
