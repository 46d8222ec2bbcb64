"""The ops health report: content from its inputs, bad-input handling, self-contained and deterministic HTML."""

import base64
import math
import re
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.platform.health_report import (
    HealthInputs,
    find_report,
    headline,
    render_html,
    render_markdown,
    write_report,
)

DAY = "2026-03-04"


def incident(iid, start, end, root, action, services, severity="major"):
    return {"incident_id": iid, "start": start, "end": end, "severity": severity, "root_cause": root,
            "suggested_action": action, "runbook": "latency_regression", "affected_services": services}


def llm_row(version, model, responses, answered, hallucinated, p95, cost):
    return {"app": "support", "model": model, "prompt_version": version, "responses": responses, "answered": answered,
            "hallucinated": hallucinated, "hallucinated_rate": hallucinated / answered, "toxic_rate": 0.01, "rude_rate": 0.02,
            "pii_rate": 0.0,
            "latency_p95_ms": p95, "cost_usd": cost, "cost_per_response_usd": cost / responses}


def make_inputs(**overrides) -> HealthInputs:
    incidents = pd.DataFrame([
        # deliberately out of order: the report sorts by start
        incident("inc-b", pd.Timestamp(f"{DAY} 14:00", tz="UTC"), pd.Timestamp(f"{DAY} 15:10", tz="UTC"), "db",
                 "Check db connection pool", np.array(["db", "api"]), "critical"),
        incident("inc-a", pd.Timestamp(f"{DAY} 03:54", tz="UTC"), pd.Timestamp(f"{DAY} 04:42", tz="UTC"), "cart",
                 "Roll back the cart deploy", ["cart", "checkout"]),
    ])
    llm = pd.DataFrame([llm_row("v1", "small", 500, 490, 49, 1300.0, 0.05), llm_row("v1", "large", 200, 200, 12, 3500.0, 0.30),
                        llm_row("v2", "small", 400, 400, 20, 1250.0, 0.06)])
    comparison = pd.DataFrame([{"app": "support", "version_a": "v1", "version_b": "v2", "metric": "hallucination_rate",
                                "value_a": 0.1, "value_b": 0.05, "verdict": "v2 is better (95% CI excludes 0)"}])
    promotion = pd.DataFrame([{"prompt_version": "v2", "decision": "promote", "reason": "v2 is better"}])
    hours = pd.date_range(DAY, periods=24, freq="h", tz="UTC")
    rollups = pd.DataFrame({"granularity": "hour", "period_start": hours, "service": "cart", "metric": "latency_p95_ms",
                            "anomalies": [0, 0, 0, 5, 30] + [0] * 19})
    base = {"day": DAY, "incidents": incidents, "noise": {"anomalous_points": 181, "alerts": 20, "incidents": 2},
                "llm_quality": llm, "prompt_comparison": comparison, "prompt_promotion": promotion, "anomaly_rollups": rollups}
    return HealthInputs(**{**base, **overrides})


def section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[1:]]


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        out.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


# ---------------------------------------------------------------- content


def test_incidents_are_listed_by_start_with_root_cause_and_action():
    rows = table_rows(section(render_markdown(make_inputs()), "Incidents"))
    assert [r[3] for r in rows] == ["cart", "db"]  # sorted by start, input was the other way round
    assert rows[0][0] == f"{DAY} 03:54" and rows[0][5] == "Roll back the cart deploy"
    assert rows[1][2] == "critical" and rows[1][4] == "api, db"  # array of services from Parquet is handled


def test_headline_figures_follow_the_inputs():
    inputs = make_inputs()
    h = headline(inputs)
    llm = inputs.llm_quality
    assert h["incidents"] == 2 and h["critical_incidents"] == 1
    assert h["anomalous_points"] == 181 and h["alerts"] == 20
    assert h["noise_compression"] == pytest.approx(1 - 2 / 181)
    assert h["llm_responses"] == llm["responses"].sum()
    assert h["llm_cost_usd"] == pytest.approx(llm["cost_usd"].sum())
    assert h["llm_hallucination_rate"] == pytest.approx(llm["hallucinated"].sum() / llm["answered"].sum())
    assert h["llm_latency_p95_ms_worst"] == llm["latency_p95_ms"].max()
    assert h["prompt_promotions"] == 1
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in h.values())


def test_llm_and_prompt_sections_show_every_version_and_the_promotion():
    md = render_markdown(make_inputs())
    rows = table_rows(section(md, "LLM quality and cost"))
    assert sorted((r[1], r[2]) for r in rows) == [("v1", "large"), ("v1", "small"), ("v2", "small")]
    small_v1 = next(r for r in rows if r[1:3] == ["v1", "small"])
    assert small_v1[4] == "10.0%" and small_v1[6] == "2.0%" and small_v1[8] == "1,300 ms"  # rudeness, latency p95
    prompts = section(md, "Prompt versions")
    assert "Promotion of v2: promote (v2 is better)." in prompts and "v2 is better (95% CI excludes 0)" in prompts


def test_noise_section_names_the_noisiest_service():
    md = render_markdown(make_inputs())
    noise = section(md, "Alert noise")
    assert "181 anomalous points -> 20 alerts -> 2 incidents" in noise and "cart (35)" in noise


def test_mlops_absent_renders_a_clear_note_and_present_renders_a_row_per_model():
    assert "No MLOps data for this day." in section(render_markdown(make_inputs()), "Models: drift, retraining, champions")
    models = [
        {"model": "recsys", "drift_verdict": "drift", "drifted_share": 0.4, "top_drifted_columns": ["price", "region"],
         "retraining_decision": "retrain", "retraining_reason": "drift share 40% > 30%", "champion_version": "7",
         "champion_metric": "auc", "champion_value": 0.81},
        {"model": "churn", "drift_verdict": "no drift", "drifted_share": float("nan")},  # partial dict: n/a, no crash
    ]
    inputs = make_inputs(mlops=models)
    rows = table_rows(section(render_markdown(inputs), "Models: drift, retraining, champions"))
    assert [r[0] for r in rows] == ["churn", "recsys"]
    assert rows[1][1:5] == ["drift", "40.0%", "price, region", "retrain (drift share 40% > 30%)"]
    assert rows[0][2] == "n/a" and rows[0][4] == "n/a"
    assert headline(inputs)["models_drifted"] == 1 and headline(inputs)["retrainings"] == 1


# ---------------------------------------------------------------- bad input


def test_empty_inputs_render_a_complete_quiet_report():
    empty = pd.DataFrame()
    inputs = HealthInputs(day=DAY, incidents=pd.DataFrame(columns=["incident_id", "start", "end", "severity", "root_cause",
                                                                   "suggested_action"]),
                          noise={}, llm_quality=pd.DataFrame(columns=["prompt_version", "responses"]),
                          prompt_comparison=empty, prompt_promotion=empty, anomaly_rollups=None)
    md, page = render_markdown(inputs), render_html(inputs)
    assert f"No incidents on {DAY}." in md and "No LLM traffic on this day." in md
    assert "No promotion decision on this day." in md and "No prompt version comparison." in md
    assert images(page) == []  # nothing to plot: no empty charts
    assert set(headline(inputs).values()) == {0}


def test_missing_columns_make_one_section_unavailable_not_the_report():
    inputs = make_inputs(incidents=pd.DataFrame({"incident_id": ["x"], "start": [DAY]}),
                         llm_quality=pd.DataFrame({"model": ["m"]}))
    md = render_markdown(inputs)
    assert "Section unavailable: the input lacks column(s) end, severity, root_cause, suggested_action." in section(md, "Incidents")
    assert "prompt_version, responses" in section(md, "LLM quality and cost")
    assert "Promotion of v2: promote" in md  # the other sections are intact
    assert len(images(render_html(inputs))) == 2  # the noise funnel and the hourly anomalies still plot


def test_duplicated_incidents_keep_the_last_version():
    base = make_inputs().incidents
    update = base.iloc[[1]].assign(severity="critical", suggested_action="Updated action")
    rows = table_rows(section(render_markdown(make_inputs(incidents=pd.concat([base, update]))), "Incidents"))
    assert len(rows) == 2
    assert rows[0][2] == "critical" and rows[0][5] == "Updated action"


def test_timestamps_in_other_zones_or_naive_are_shown_in_utc():
    frame = pd.DataFrame([
        incident("tz", "2026-03-04T06:00:00+02:00", "2026-03-04T07:30:00+02:00", "api", "a", ["api"]),
        incident("naive", "2026-03-04 01:00:00", "2026-03-04 01:20:00", "db", "b", "db,api"),
        incident("bad", "not a time", None, "x", "c", None),
    ])
    md = section(render_markdown(make_inputs(incidents=frame)), "Incidents")
    rows = table_rows(md)
    assert [(r[0], r[1]) for r in rows] == [(f"{DAY} 01:00", "01:20"), (f"{DAY} 04:00", "05:30")]
    assert rows[0][4] == "api, db"
    assert "1 incident row(s) without a valid start time were left out." in md


def test_non_finite_numbers_render_as_not_available():
    llm = make_inputs().llm_quality.copy()
    llm.loc[0, ["hallucinated_rate", "latency_p95_ms", "cost_per_response_usd"]] = [np.nan, np.inf, -np.inf]
    llm.loc[1, "cost_usd"] = np.inf
    inputs = make_inputs(llm_quality=llm, noise={"anomalous_points": float("nan"), "alerts": float("inf"), "incidents": None})
    rows = table_rows(section(render_markdown(inputs), "LLM quality and cost"))
    row = next(r for r in rows if r[1:3] == ["v1", "small"])
    assert row[4] == row[8] == row[9] == "n/a"  # hallucination, latency p95, cost per response
    h = headline(inputs)
    assert all(math.isfinite(v) for v in h.values())
    assert h["anomalous_points"] == h["alerts"] == 0
    assert h["llm_cost_usd"] == pytest.approx(0.05 + 0.06)  # the infinite cost is not summed
    assert len(images(render_html(inputs))) == 3  # no funnel without points; the rest still plot


def test_pipes_and_newlines_in_text_do_not_break_markdown_tables():
    frame = make_inputs().incidents.assign(suggested_action=["a | b\nc", "plain"])
    rows = table_rows(section(render_markdown(make_inputs(incidents=frame)), "Incidents"))
    assert all(len(r) == 6 for r in rows)


def test_a_bad_day_is_rejected():
    with pytest.raises(ValueError):
        make_inputs(day="2026-02-30")


def test_incident_across_midnight_still_plots():
    frame = pd.DataFrame([incident("x", "2026-03-03T23:30:00Z", "2026-03-04T00:40:00Z", "db", "a", ["db"])])
    assert len(images(render_html(make_inputs(incidents=frame)))) == 4


# ---------------------------------------------------------------- HTML page and files


def test_html_is_self_contained_with_four_valid_plots():
    page = render_html(make_inputs())
    assert "<script" not in page and "http://" not in page and "https://" not in page and "@import" not in page
    assert re.findall(r'src="([^"]{0,22})', page) == ["data:image/png;base64,"] * 4
    pngs = images(page)
    assert len(pngs) == 4
    for png in pngs:
        kinds = [k for k, _ in png_chunks(png)]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
        assert b"tIME" not in kinds  # no timestamp ...
        assert not [d for k, d in png_chunks(png) if k in (b"tEXt", b"iTXt", b"zTXt")]  # ... and no Software tag
        width, height = struct.unpack(">II", png_chunks(png)[0][1][:8])
        assert 300 <= width <= 1200 and 100 <= height <= 800
    assert "Roll back the cart deploy" in page


def test_html_escapes_text():
    frame = make_inputs().incidents.assign(root_cause=["<b>db</b>", "cart"])
    page = render_html(make_inputs(incidents=frame))
    assert "<b>db</b>" not in page and "&lt;b&gt;db&lt;/b&gt;" in page


RENDER = """
import sys, pandas as pd
sys.path.insert(0, {tests!r})
from lib.platform.test_health_report import make_inputs
from ops_pipelines.lib.platform.health_report import render_html
sys.stdout.write(render_html(make_inputs()))
"""


def test_same_inputs_give_the_same_bytes_across_processes(tmp_path):
    from pathlib import Path

    page = render_html(make_inputs())
    assert render_html(make_inputs()) == page
    tests = str(Path(__file__).resolve().parents[2])
    # Another hash seed, another default backend and a cold matplotlib cache: still the same bytes.
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "MPLBACKEND": "svg", "MPLCONFIGDIR": str(tmp_path)}
    other = subprocess.run([sys.executable, "-c", RENDER.format(tests=tests)], capture_output=True, text=True, env=env, check=True)
    assert other.stdout == page


def test_write_report_is_atomic_repeatable_and_found_by_status(tmp_path):
    inputs = make_inputs()
    md_path, html_path, markdown = write_report(tmp_path, inputs)
    assert md_path.name == f"ops_health_{DAY}.md" and html_path.name == f"ops_health_{DAY}.html"
    assert md_path.read_text() == markdown == render_markdown(inputs)
    first = html_path.read_bytes()
    write_report(tmp_path, inputs)
    assert html_path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([md_path.name, html_path.name])  # no temp files left
    write_report(tmp_path, make_inputs(day="2026-03-02"))
    (tmp_path / "ops_health_latest.md").write_text("not a dated report")
    assert find_report(tmp_path) == md_path  # the latest day, foreign files ignored
    assert find_report(tmp_path, "2026-03-02", ".html").name == "ops_health_2026-03-02.html"
    assert find_report(tmp_path, "2026-03-03") is None
    assert find_report(tmp_path / "missing") is None


def test_the_page_comes_from_the_packaged_template_with_autoescape_on():
    from pathlib import Path

    from ops_pipelines.lib.platform import health_report

    assert (Path(health_report.__file__).parent / "templates" / health_report.TEMPLATE).is_file()
    frame = make_inputs().incidents.assign(suggested_action=["<img src=x onerror=alert(1)>", "plain"])
    page = render_html(make_inputs(incidents=frame))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
