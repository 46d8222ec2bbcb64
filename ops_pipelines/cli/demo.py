"""The demo: the sample world, day by day, through the asset graph on the embedded instance."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from typing import TextIO

from ops_pipelines import settings

# What the demo owns under the data home; a rerun starts from the same world, byte for byte.
DEMO_FOLDERS = ("landing", "storage", "state", "datasets", "mlflow", "reports", "alerts", "judge_cache")


def reset_data_home() -> None:
    """Remove what the demo owns and initialise the home afresh (the demo's registry is its own)."""
    from ops_pipelines.lib.mlops.registry_store import STORES_FILE
    from ops_pipelines.lib.platform.home import init_home

    home = settings.data_home()
    for name in DEMO_FOLDERS:
        shutil.rmtree(home / name, ignore_errors=True)
    (home / STORES_FILE).unlink(missing_ok=True)
    instance_dir = settings.dagster_home()
    if instance_dir.exists():  # keep dagster.yaml, drop run history, event logs and schedule state
        for child in instance_dir.iterdir():
            if child.name != "dagster.yaml":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    init_home(home)


def run_demo(days: int, start: dt.date, seed: int, out: TextIO) -> int:
    """Simulate `days` days into the landing zone, then submit each day's `daily_job` run to the
    instance's queue and let the Dagster daemon run it and tick the sensors (retraining included),
    one day after another; print a summary from what the instance recorded."""
    import os

    import dagster as dg

    from ops_pipelines import daily_runs
    from ops_pipelines.lib.sim import simulate_world

    reset_data_home()
    landing = settings.landing_dir()
    t0 = time.perf_counter()
    summary = simulate_world(landing, start, days, seed=seed)
    print(f"simulated {days} days from {start} (seed {seed}) into {landing} in {time.perf_counter() - t0:.1f}s", file=out)
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home()), "OPS_PIPELINES_HOME": str(settings.data_home())}
    days_run = daily_runs.day_range(start, start + dt.timedelta(days=days - 1))
    with dg.DagsterInstance.get() as instance:
        outcomes = daily_runs.run_days(instance, days_run, env, settings.data_home() / "logs", out, trigger="demo")
        print_summary(instance, [o.run_id for o in outcomes], summary.to_dict(), injected_bad_rows(landing), out)
        print_incidents(landing, out)
        print_mlops(instance, out)
        print_llm_quality(landing, out)
        failed = [o.day for o in outcomes if o.status != "SUCCESS"]
    print(f"\nData: {settings.data_home()} (asset Parquet in storage/, reports in reports/, MLflow in mlflow/)", file=out)
    print("Open the Dagster UI:  .venv/bin/ops-pipelines ui   then browse http://127.0.0.1:3000", file=out)
    print("Latest health report: .venv/bin/ops-pipelines status", file=out)
    return 1 if failed else 0


def injected_bad_rows(landing) -> dict[str, int]:
    """Rows the simulator deliberately broke, per landing-zone kind (from its ground truth)."""
    import json

    truth = json.loads((landing / "ground_truth" / "bad_rows.json").read_text())["files"]
    counts: dict[str, int] = {}
    for path, info in truth.items():
        kind = path.split("/", 1)[0]
        counts[kind] = counts.get(kind, 0) + sum(n for reason, n in info["bad"].items() if reason != "exact_duplicate")
    return counts


def print_summary(instance, run_ids: list[str], world: dict, injected: dict[str, int], out: TextIO) -> None:
    """Per asset: rows, quarantined rows (vs. what the simulator injected), unreadable files, checks."""
    import dagster as dg

    from ops_pipelines.factories.ingestion import INGESTION_ASSETS

    totals: dict[str, dict[str, float]] = {}
    checks: dict[str, list[bool]] = {}
    why: dict[str, str] = {}  # check -> its first failure, in one line
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    for run_id in run_ids:
        day = (instance.get_run_by_id(run_id).tags or {}).get("dagster/partition", "")
        for entry in instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                check = event.event_specific_data
                name = f"{check.asset_key.to_user_string()}.{check.check_name}"
                checks.setdefault(name, []).append(check.passed)
                if not check.passed and name not in why:
                    why[name] = failure_line(day, check.severity, check.metadata, check.description)
                continue
            mat = entry.asset_materialization
            agg = totals.setdefault(mat.asset_key.to_user_string(), {})
            for key, value in mat.metadata.items():
                if isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
                    agg[key] = agg.get(key, 0) + value.value

    print("\nWhat was produced", file=out)
    print(f"{'asset':<22}{'rows':>12}{'quarantined':>13}{'injected bad':>14}{'unreadable files':>18}", file=out)
    for kind, name in INGESTION_ASSETS.items():
        agg = totals.get(name, {})
        print(
            f"{name:<22}{int(agg.get('dagster/row_count', 0)):>12,}{int(agg.get('quarantined_rows', 0)):>13,}"
            f"{injected.get(kind, 0):>14,}{int(agg.get('unreadable_files', 0)):>18}",
            file=out,
        )
        reasons = {k.split("/", 1)[1]: int(v) for k, v in totals.get(f"{name}_quarantine", {}).items() if k.startswith("reason/") and v}
        if reasons:
            print("    quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())), file=out)
    anomalies = totals.get("metric_anomalies", {})
    if anomalies:
        print(
            f"{'metric_anomalies':<22}{int(anomalies.get('dagster/row_count', 0)):>12,} metric points scored, "
            f"{int(anomalies.get('anomalous_points', 0)):,} flagged anomalous (incidents below)",
            file=out,
        )
    print("\nChecks (days passed / days evaluated; a failing check's first failure, and why)", file=out)
    width = max((len(k) for k in checks), default=0)
    for key, outcomes in sorted(checks.items()):
        line = f"  {key:<{width}}  {sum(outcomes):>2}/{len(outcomes)}"
        print(line + (f"  {why[key]}" if key in why else ""), file=out)
    print("\nWorld: " + ", ".join(f"{k}={v}" for k, v in world.items() if not isinstance(v, (dict, list))), file=out)


def failure_line(day: str, severity, metadata: dict, description: str | None) -> str:
    """One line on why a check failed: its day, whether it stops the run, and the first thing its metadata
    names (e.g. the guardrail a prompt version broke), cut at a word boundary."""
    level = "warning" if getattr(severity, "value", severity) == "WARN" else "error"
    detail = ""
    for key, value in metadata.items():
        text = str(getattr(value, "value", value) or "").strip()
        if text and text.lower() != "none" and not isinstance(getattr(value, "value", value), (int, float)):
            detail = f"{key}: " + "; ".join(part.strip(" -*") for part in text.splitlines() if part.strip(" -*|"))
            break
    if not detail:
        numbers = [f"{k} {getattr(v, 'value', v):.4g}" for k, v in metadata.items()
                   if isinstance(getattr(v, "value", v), (int, float)) and not isinstance(getattr(v, "value", v), bool)]
        detail = ", ".join(numbers[:3]) or (description or "no detail recorded")
    return shorten(f"({level}) {day}: {detail}", LINE_WIDTH - 40)


LINE_WIDTH = 140


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut at a word boundary with an ellipsis when longer than `width`."""
    import textwrap

    return textwrap.shorten(" ".join(text.split()), width=max(width, 20), placeholder=" ...")


def print_incidents(landing, out: TextIO) -> None:
    """Detected incidents with root cause and action, scored against the simulator's ground truth."""
    import json
    import textwrap

    import pandas as pd

    from ops_pipelines.lib.aiops.evaluate import score_incidents

    storage = settings.storage_dir()
    frames = [f for f in (pd.read_parquet(p) for p in sorted((storage / "incidents").glob("*.parquet"))) if len(f)]
    if not frames:
        print("\nIncidents: none found", file=out)
        return
    found = pd.concat(frames, ignore_index=True).drop_duplicates("incident_id", keep="last")
    noise = [pd.read_parquet(p) for p in sorted((storage / "alert_noise_report").glob("*.parquet"))]
    noise = pd.concat(noise, ignore_index=True) if noise else pd.DataFrame({"anomalous_points": [0], "alerts": [0]})
    points, alerts = int(noise["anomalous_points"].sum()), int(noise["alerts"].sum()) if "alerts" in noise else None
    truth = json.loads((landing / "ground_truth" / "incidents.json").read_text())
    score = score_incidents(found, truth, points)
    extra = score.detected_incidents - score.matched_detected
    split = (", an injected incident raised in parts counts each part" if score.matched_detected > score.matched_true
             else "")
    print(f"\nIncidents: {score.detected_incidents} raised. Of the {score.true_incidents} injected, "
          f"{score.matched_true} found and {score.true_incidents - score.matched_true} missed (recall {score.recall:.2f}); "
          f"{score.matched_detected} of the raised match an injected one and {extra} are extra detections "
          f"(precision {score.precision:.2f}{split}); the root cause is right first for {score.top1:.0%} of those found "
          f"(top-3 {score.top3:.0%}).", file=out)
    funnel = f" -> {alerts:,} alerts" if alerts is not None else ""
    print(f"Noise: {points:,} anomalous points (metric points flagged above, plus log anomalies){funnel} -> "
          f"{len(found)} incidents (compression {score.compression:.1%})", file=out)
    wrap = textwrap.TextWrapper(width=LINE_WIDTH, initial_indent=" " * 4 + "action: ", subsequent_indent=" " * 12,
                                break_long_words=False, break_on_hyphens=False)
    for row in found.sort_values("start").itertuples():
        print(f"  {row.start:%m-%d %H:%M}-{row.end:%H:%M} {row.severity:<8} root cause {row.root_cause}", file=out)
        print(wrap.fill(" ".join(str(row.suggested_action).split())), file=out)


def print_llm_quality(landing, out: TextIO) -> None:
    """Measured LLM rates per prompt version next to the simulator's true rates; the latest promotion."""
    import json

    import pandas as pd

    storage = settings.storage_dir()
    parts = sorted((storage / "llm_quality_daily").glob("*.parquet"))
    if not parts:
        return
    quality = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    totals = quality.groupby("prompt_version")[["answered", "hallucinated", "toxic", "pii", "refused", "cost_usd", "responses"]].sum()
    truth = json.loads((landing / "ground_truth" / "world.json").read_text())["llm_app"]["prompt_versions"]
    print("\nLLM quality per prompt version (measured / the simulator's configured rate, answered traces)", file=out)
    for version, row in totals.iterrows():
        t = truth.get(version, {})
        cells = [f"{name} {row[col] / row['answered']:.1%} / {t.get(key, float('nan')):.1%}"
                 for name, col, key in (("hallucination", "hallucinated", "hallucination_rate"), ("toxicity", "toxic", "toxic_rate"),
                                        ("PII", "pii", "pii_leak_rate"), ("refusal", "refused", "refusal_rate"))]
        print(f"  {version:<12} " + ", ".join(cells) + f"; cost per response ${row['cost_usd'] / row['responses']:.5f}", file=out)
    promotions = sorted((storage / "prompt_promotion").glob("*.parquet"))
    if promotions:
        for r in pd.read_parquet(promotions[-1]).itertuples():
            print(f"  promotion ({promotions[-1].stem}): {r.prompt_version} -> {r.decision}: {r.reason}", file=out)


def print_mlops(instance, out: TextIO) -> None:
    """Per model: the days drift was flagged, the retraining runs the sensor launched and their decisions."""
    import warnings

    import pandas as pd

    storage = settings.storage_dir()
    frames = [f for f in (pd.read_parquet(p) for p in sorted((storage / "drift_report").glob("*.parquet"))) if len(f)]
    if not frames:
        return
    evaluations = sorted((storage / "model_evaluation").glob("*.parquet"))
    with warnings.catch_warnings():  # days without a champion are all-NA columns: concat is right as it is
        warnings.simplefilter("ignore", FutureWarning)
        drift = pd.concat(frames, ignore_index=True)
        decisions = pd.concat([pd.read_parquet(p) for p in evaluations], ignore_index=True) if evaluations else pd.DataFrame()
    print("\nModels (drift against the champion's training data; retraining launched by the sensor)", file=out)
    for model, rows in drift.groupby("model", sort=True):
        flagged = rows.loc[rows["dataset_drift"].astype(bool), "day"].tolist()
        perf = rows.dropna(subset=["performance"])
        line = f"  {model:<14} drift on {', '.join(flagged) if flagged else 'no day'}"
        if len(perf):
            line += (f"; champion ROC-AUC on each day's labels {perf['performance'].min():.3f}-{perf['performance'].max():.3f} "
                     f"(last day {perf['performance'].iloc[-1]:.3f})")
        print(line, file=out)
        mine = decisions[decisions["model"] == model] if len(decisions) else decisions
        for r in mine.sort_values("as_of").itertuples() if len(mine) else []:
            print(f"      {r.as_of}: v{r.candidate_version} {r.decision}: {r.reason}", file=out)
