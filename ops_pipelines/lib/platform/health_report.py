"""The daily ops health report: one page, as Markdown (Dagster UI) and as self-contained HTML.

Inputs are the day's asset tables; every section tolerates empty, duplicated, out-of-order and
non-finite input, and a table that lacks the columns a section needs turns that section into a
visible "unavailable" note instead of failing the whole report. The HTML embeds its plots as
base64 PNG (matplotlib, Agg, no date in the metadata) and uses no external URL or script, so the
same inputs give the same bytes and the file opens offline.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.files import atomic_write_text
from ops_pipelines.lib.markdown import table as md_table
from ops_pipelines.lib.platform import health_plots as charts

REPORT_PREFIX = "ops_health_"
INCIDENT_REQUIRED = ["incident_id", "start", "end", "severity", "root_cause", "suggested_action"]
LLM_REQUIRED = ["prompt_version", "responses"]
# Keys of one MLOps section (one dict per monitored model); missing keys render as "n/a". The
# headline counts a model as drifted when drift_verdict is "drift"/"drifted"/"true" and as
# retrained when retraining_decision is "retrain"/"retrained".
MLOPS_KEYS = ["model", "drift_verdict", "drifted_share", "top_drifted_columns", "retraining_decision",
              "retraining_reason", "champion_version", "champion_metric", "champion_value", "champion_window"]
NA = "n/a"


@dataclass
class HealthInputs:
    """Everything the report shows for one UTC day (frames as the assets store them)."""

    day: str
    incidents: pd.DataFrame
    noise: dict
    llm_quality: pd.DataFrame
    prompt_comparison: pd.DataFrame
    prompt_promotion: pd.DataFrame
    anomaly_rollups: pd.DataFrame | None = None
    mlops: list[dict] | None = None  # per-model drift / retraining / champion; None until MLOps reports
    annotations: pd.DataFrame | None = None  # movement explained, not raised (anomaly_annotations)
    freshness: str | None = None  # when the day is due and what watches it (lib/platform/freshness.py)

    def __post_init__(self) -> None:
        self.day = dt.date.fromisoformat(str(self.day)).isoformat()  # a bad day fails here, clearly


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    table: Table | None = None
    plots: list[tuple[bytes, str]] = field(default_factory=list)  # (PNG, alt text); HTML only


# ---------------------------------------------------------------- input normalisation


def utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC (index kept): naive ones are taken as UTC, other zones converted, garbage -> NaT."""
    return pd.to_datetime(values.astype(object), utc=True, errors="coerce", format="mixed")


def finite(value, default: float = math.nan) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def missing(frame: pd.DataFrame | None, required: list[str]) -> list[str]:
    return list(required) if frame is None else [c for c in required if c not in frame.columns]


def services_of(value, fallback: str) -> list[str]:
    if isinstance(value, str):
        items = value.split(",")
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        items = []
    else:
        items = list(value)
    return sorted({str(s).strip() for s in items if str(s).strip()}) or [fallback]


def clean_incidents(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Unique incidents (last version of an id wins) sorted by start; rows without a start are counted, not shown."""
    out = frame.copy()
    out["start"], out["end"] = utc(out["start"]), utc(out["end"])
    bad = int(out["start"].isna().sum())
    out = out[out["start"].notna()].copy()
    out["end"] = out["end"].fillna(out["start"])
    out["end"] = out[["start", "end"]].max(axis=1)  # an end before its start is a zero-length incident
    for col in ("incident_id", "severity", "root_cause", "suggested_action"):
        out[col] = out[col].fillna("").astype(str)
    raw = out["affected_services"] if "affected_services" in out.columns else pd.Series([None] * len(out), index=out.index)
    out["affected_services"] = [services_of(v, root) for v, root in zip(raw, out["root_cause"])]
    out = out.drop_duplicates("incident_id", keep="last")
    return out.sort_values(["start", "incident_id"], kind="stable").reset_index(drop=True), bad


def clean_noise(noise: dict | None) -> dict[str, float]:
    counts = {k: max(finite((noise or {}).get(k), 0.0), 0.0) for k in ("anomalous_points", "alerts", "incidents")}
    points = counts["anomalous_points"]
    counts["compression"] = 1.0 - counts["incidents"] / points if points else 0.0
    return counts


def clean_llm(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (app, model, prompt version), numbers finite or NaN, sorted."""
    out = frame.copy()
    for col in ("app", "model"):
        out[col] = out[col].fillna(NA).astype(str) if col in out.columns else NA
    out["prompt_version"] = out["prompt_version"].fillna(NA).astype(str)
    for col in out.columns.difference(["app", "model", "prompt_version"]):
        if col in ("responses", "answered", "hallucinated") or col.endswith(("_ms", "_usd", "_rate")):
            out[col] = pd.to_numeric(out[col], errors="coerce").where(lambda s: s.abs() != math.inf)
    out = out.drop_duplicates(["app", "model", "prompt_version"], keep="last")
    return out.sort_values(["app", "prompt_version", "model"], kind="stable").reset_index(drop=True)


def hourly_anomalies(rollups: pd.DataFrame | None, day: str) -> pd.DataFrame:
    """Anomalies per UTC hour of `day` and service (hour rows of anomaly_rollups; duplicates counted once)."""
    if rollups is None or missing(rollups, ["granularity", "period_start", "service", "anomalies"]) or rollups.empty:
        return pd.DataFrame(columns=["hour", "service", "anomalies"])
    hourly = rollups[rollups["granularity"] == "hour"].copy()
    hourly["period_start"] = utc(hourly["period_start"])
    hourly["anomalies"] = pd.to_numeric(hourly["anomalies"], errors="coerce").fillna(0).clip(lower=0)
    keys = ["period_start", "service"] + (["metric"] if "metric" in hourly.columns else [])
    hourly = hourly.dropna(subset=["period_start"]).drop_duplicates(keys, keep="last")
    start = pd.Timestamp(day, tz="UTC")
    hourly = hourly[(hourly["period_start"] >= start) & (hourly["period_start"] < start + pd.Timedelta(days=1))]
    hourly["hour"] = ((hourly["period_start"] - start) // pd.Timedelta(hours=1)).astype(int)
    hourly["service"] = hourly["service"].astype(str)
    return hourly.groupby(["hour", "service"], as_index=False)["anomalies"].sum()


# ---------------------------------------------------------------- figures and sections


def fmt(value, kind: str = "num") -> str:
    number = finite(value)
    if math.isnan(number):
        return NA
    if kind == "usd":  # cents for totals, three significant digits for per-response fractions of a cent
        return f"${number:,.2f}" if abs(number) >= 1 else f"${plain(number, 3)}"
    return {"pct": f"{number:.1%}", "int": f"{number:,.0f}", "ms": f"{number:,.0f} ms"}.get(kind, plain(number, 4))


def plain(number: float, digits: int) -> str:
    """Significant digits without scientific notation (0.0000772, not 7.72e-05)."""
    import numpy as np

    return np.format_float_positional(number, precision=digits, fractional=False, trim="-")


def headline(inputs: HealthInputs) -> dict[str, float | int]:
    """The numbers people watch day to day (always present, finite; 0 when there is no data)."""
    noise = clean_noise(inputs.noise)
    found = clean_incidents(inputs.incidents)[0] if not missing(inputs.incidents, INCIDENT_REQUIRED) else pd.DataFrame()
    llm = clean_llm(inputs.llm_quality) if not missing(inputs.llm_quality, LLM_REQUIRED) else pd.DataFrame()
    total = lambda col: float(llm[col].sum()) if col in llm.columns else 0.0
    # Hallucination is a share of the traces with a groundedness verdict (older tables lack `judged`).
    judged = "judged" if "judged" in llm.columns else "answered"
    promotion = inputs.prompt_promotion
    models = inputs.mlops or []
    return {
        "incidents": len(found),
        "critical_incidents": int((found["severity"] == "critical").sum()) if len(found) else 0,
        "anomalous_points": int(noise["anomalous_points"]),
        "alerts": int(noise["alerts"]),
        "noise_compression": float(noise["compression"]),
        "llm_responses": int(total("responses")),
        "llm_cost_usd": total("cost_usd"),
        "llm_hallucination_rate": total("hallucinated") / total(judged) if total(judged) else 0.0,
        "llm_latency_p95_ms_worst": finite(llm["latency_p95_ms"].max(), 0.0) if "latency_p95_ms" in llm.columns else 0.0,
        "prompt_promotions": int((promotion["decision"] == "promote").sum()) if "decision" in promotion.columns else 0,
        "models_drifted": sum(str(m.get("drift_verdict", "")).lower() in ("drift", "drifted", "true") for m in models),
        "retrainings": sum(str(m.get("retraining_decision", "")).lower() in ("retrain", "retrained") for m in models),
    }


def unavailable(title: str, cols: list[str]) -> Section:
    return Section(title, [f"Section unavailable: the input lacks column(s) {', '.join(cols)}."])


def annotation_lines(notes: pd.DataFrame | None, limit: int = 8) -> list[str]:
    """One line per annotation (traffic events, change impacts, scheduled jobs, warm-up): what moved
    without being an incident, and why."""
    if notes is None or notes.empty or missing(notes, ["start", "kind", "services", "reason"]):
        return []
    rows = notes.sort_values("start", kind="stable")
    out = [f"Explained, not raised: {len(rows)} ({', '.join(f'{k} {n}' for k, n in rows['kind'].value_counts().sort_index().items())})."]
    for r in rows.head(limit).itertuples():
        out.append(f"- {r.start:%H:%M} {r.kind.replace('_', ' ')} on {', '.join(list(r.services)[:6])}: {r.reason}")
    return out


def incidents_section(inputs: HealthInputs, draw: bool) -> Section:
    title = "Incidents"
    if cols := missing(inputs.incidents, INCIDENT_REQUIRED):
        return unavailable(title, cols)
    found, bad = clean_incidents(inputs.incidents)
    text = [f"{len(found)} incident(s) on {inputs.day}." if len(found) else f"No incidents on {inputs.day}."]
    if bad:
        text.append(f"{bad} incident row(s) without a valid start time were left out.")
    text += annotation_lines(inputs.annotations)
    if found.empty:
        return Section(title, text)
    rows = [[f"{r.start:%Y-%m-%d %H:%M}", f"{r.end:%H:%M}", r.severity, r.root_cause, ", ".join(r.affected_services),
             r.suggested_action] for r in found.itertuples()]
    table = Table(["start (UTC)", "end", "severity", "root cause", "affected services", "suggested action"], rows)
    figures = [(charts.incident_timeline(found, inputs.day), "Incident timeline by service")] if draw else []
    return Section(title, text, table, figures)


def noise_section(inputs: HealthInputs, draw: bool) -> Section:
    noise = clean_noise(inputs.noise)
    text = [(f"{fmt(noise['anomalous_points'], 'int')} anomalous points -> {fmt(noise['alerts'], 'int')} alerts -> "
            f"{fmt(noise['incidents'], 'int')} incidents (compression {fmt(noise['compression'], 'pct')}).")]
    hourly = hourly_anomalies(inputs.anomaly_rollups, inputs.day)
    if len(hourly):
        top = hourly.groupby("service")["anomalies"].sum().sort_values(ascending=False, kind="stable")
        top = top[top > 0].head(5)
        if len(top):
            text.append("Noisiest services: " + ", ".join(f"{s} ({int(n)})" for s, n in top.items()) + ".")
    figures = []
    if draw and noise["anomalous_points"]:
        figures.append((charts.noise_funnel(noise), "Noise funnel: anomalous points, alerts, incidents"))
    if draw and hourly["anomalies"].sum() > 0:
        figures.append((charts.anomalies_per_hour(hourly), "Anomalies per UTC hour by service"))
    return Section("Alert noise", text, None, figures)


def mlops_section(inputs: HealthInputs, draw: bool = False) -> Section:
    title = "Models: drift, retraining, champions"
    if not inputs.mlops:
        return Section(title, ["No MLOps data for this day."])
    rows = []
    for m in sorted(inputs.mlops, key=lambda m: str(m.get("model", ""))):
        cols = m.get("top_drifted_columns") or []
        cols = ", ".join(map(str, cols)) if not isinstance(cols, str) else cols
        reason = f" ({m['retraining_reason']})" if m.get("retraining_reason") else ""
        metric = f"{m.get('champion_metric', 'metric')} {fmt(m.get('champion_value'))}"
        if m.get("champion_window"):  # rare-label models are judged on a grown window: say which
            metric += f" on {m['champion_window']}"
        rows.append([str(m.get("model", NA)), str(m.get("drift_verdict", NA)), fmt(m.get("drifted_share"), "pct"),
                     cols or "none", f"{m.get('retraining_decision', NA)}{reason}", str(m.get("champion_version", NA)), metric])
    table = Table(["model", "drift", "drifted share", "top drifted columns", "retraining", "champion", "champion metric"], rows)
    return Section(title, [], table)


def groups_section(inputs: HealthInputs, draw: bool = False) -> Section:
    """Bias across groups: per model, the champion's disparity per group column (best minus worst group) and
    any group that fell behind the rest on the day (the drift_report check groups_within_quality_margin)."""
    title = "Models: bias across groups"
    judged = [m for m in (inputs.mlops or []) if m.get("group_disparity")]
    if not judged:
        return Section(title, ["No per-group figures for this day (no champion with labelled rows, or no group columns)."])
    rows = [[str(m.get("model", NA)), str(m.get("group_metric", NA)), str(m["group_disparity"]), str(m.get("groups_flagged", NA))]
            for m in sorted(judged, key=lambda m: str(m.get("model", "")))]
    flagged = sum(m.get("groups_flagged", "none") != "none" for m in judged)
    text = [f"{flagged} model(s) with a group that fell behind the rest today." if flagged
            else "No group fell behind the rest today."]
    return Section(title, text, Table(["model", "metric", "disparity (best - worst group)", "groups flagged"], rows))


def llm_section(inputs: HealthInputs, draw: bool) -> Section:
    title = "LLM quality and cost"
    if cols := missing(inputs.llm_quality, LLM_REQUIRED):
        return unavailable(title, cols)
    llm = clean_llm(inputs.llm_quality)
    if llm.empty:
        return Section(title, ["No LLM traffic on this day."])
    get = lambda r, c: getattr(r, c, math.nan)
    rows = [[r.app, r.prompt_version, r.model, fmt(r.responses, "int"), fmt(get(r, "hallucinated_rate"), "pct"),
             fmt(get(r, "toxic_rate"), "pct"), fmt(get(r, "rude_rate"), "pct"), fmt(get(r, "pii_rate"), "pct"),
             fmt(get(r, "latency_p95_ms"), "ms"), fmt(get(r, "cost_per_response_usd"), "usd"), fmt(get(r, "cost_usd"), "usd")]
            for r in llm.itertuples()]
    head = headline(inputs)
    text = [(f"{head['llm_responses']:,} responses, ${head['llm_cost_usd']:,.2f} spent, hallucination rate "
            f"{head['llm_hallucination_rate']:.1%} of answered traces.")]
    table = Table(["app", "prompt version", "model", "responses", "hallucination", "toxicity", "rudeness", "PII",
                   "latency p95", "cost / response", "cost"], rows)
    figures = [(charts.llm_quality(llm), "LLM quality per prompt version and model")] if draw else []
    return Section(title, text, table, figures)


def prompts_section(inputs: HealthInputs, draw: bool = False) -> Section:
    title = "Prompt versions"
    text = []
    promo = inputs.prompt_promotion
    if not missing(promo, ["prompt_version", "decision"]) and len(promo):
        reasons = promo["reason"] if "reason" in promo.columns else pd.Series([""] * len(promo), index=promo.index)
        for version, decision, reason in sorted(zip(promo["prompt_version"].astype(str), promo["decision"].astype(str), reasons.fillna("").astype(str))):
            text.append(f"Promotion of {version}: {decision}" + (f" ({reason})" if reason else "") + ".")
    else:
        text.append("No promotion decision on this day.")
    comp = inputs.prompt_comparison
    if missing(comp, ["version_a", "version_b", "metric", "verdict"]) or comp.empty:
        return Section(title, text + ["No prompt version comparison."])
    comp = comp.drop_duplicates([c for c in ("app", "version_a", "version_b", "metric") if c in comp.columns], keep="last")
    rows = [[f"{r.version_a} vs {r.version_b}", str(r.metric), fmt(getattr(r, "value_a", math.nan)),
             fmt(getattr(r, "value_b", math.nan)), str(r.verdict)]
            for r in comp.sort_values(["version_a", "version_b", "metric"], kind="stable").itertuples()]
    return Section(title, text, Table(["versions", "metric", "a", "b", "verdict (7 days)"], rows))


def sections(inputs: HealthInputs, draw: bool = False) -> list[Section]:
    """The report's sections in page order; `draw` renders the plots (only the HTML shows them)."""
    return [build(inputs, draw) for build in (incidents_section, noise_section, mlops_section, groups_section, llm_section, prompts_section)]


def headline_lines(inputs: HealthInputs) -> list[str]:
    h = headline(inputs)
    return [
        f"Incidents: {h['incidents']} ({h['critical_incidents']} critical)",
        (f"Alert noise: {h['anomalous_points']:,} anomalous points -> {h['alerts']:,} alerts -> {h['incidents']} incidents "
        f"({h['noise_compression']:.1%} compression)"),
        f"Models drifted: {h['models_drifted']}, retrainings: {h['retrainings']}" if inputs.mlops else "Models: no MLOps data",
        (f"LLM: {h['llm_responses']:,} responses, ${h['llm_cost_usd']:,.2f}, hallucination {h['llm_hallucination_rate']:.1%}, "
        f"prompt promotions: {h['prompt_promotions']}"),
    ] + ([inputs.freshness] if inputs.freshness else [])


# ---------------------------------------------------------------- renderers


def render_markdown(inputs: HealthInputs) -> str:
    """The report as Markdown (plots are HTML-only; the numbers behind them are in the text)."""
    lines = [f"# Ops health report {inputs.day}", ""] + [f"- {line}" for line in headline_lines(inputs)]
    for section in sections(inputs):
        lines += ["", f"## {section.title}", ""]
        lines += [p for text in section.text for p in (text, "")][:-1] if section.text else []
        if section.table:
            lines += ["", md_table(section.table.headers, section.table.rows)]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


TEMPLATE = "health_report.html.j2"  # in ./templates, shipped with the package


def render_html(inputs: HealthInputs) -> str:
    """One self-contained page from the Jinja2 template (autoescaped): plots as data: PNGs, no script."""
    import base64

    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ops_pipelines.lib.platform", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    sections_out = [{"title": s.title, "text": s.text, "table": s.table,
                     "plots": [{"alt": alt, "data": base64.b64encode(png).decode("ascii")} for png, alt in s.plots]}
                    for s in sections(inputs, draw=True)]
    return env.get_template(TEMPLATE).render(day=inputs.day, headline=headline_lines(inputs), sections=sections_out)


# ---------------------------------------------------------------- files


def report_path(reports_dir: Path, day: str, suffix: str) -> Path:
    return Path(reports_dir) / f"{REPORT_PREFIX}{dt.date.fromisoformat(day).isoformat()}{suffix}"


def write_report(reports_dir: Path, inputs: HealthInputs) -> tuple[Path, Path, str]:
    """Write `ops_health_<day>.md` and `.html`; returns (markdown path, html path, markdown)."""
    markdown = render_markdown(inputs)
    md_path, html_path = report_path(reports_dir, inputs.day, ".md"), report_path(reports_dir, inputs.day, ".html")
    atomic_write_text(html_path, render_html(inputs))
    atomic_write_text(md_path, markdown)
    return md_path, html_path, markdown


def find_report(reports_dir: Path, day: str | None = None, suffix: str = ".md") -> Path | None:
    """The given day's report, or the latest day's; None when there is none."""
    if day is not None:
        path = report_path(reports_dir, day, suffix)
        return path if path.is_file() else None
    days = []
    for path in Path(reports_dir).glob(f"{REPORT_PREFIX}*{suffix}"):
        try:
            days.append(dt.date.fromisoformat(path.name[len(REPORT_PREFIX):-len(suffix)]))
        except ValueError:
            continue  # not one of ours (a user's copy, an editor backup)
    return report_path(reports_dir, max(days).isoformat(), suffix) if days else None
