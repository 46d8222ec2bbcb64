"""The demo: the sample world, day by day, through the asset graph on the embedded instance."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from typing import TextIO

from ops_pipelines import settings

DAILY_JOB = "daily_job"
# Keep the terminal readable: warnings and errors (e.g. an unreadable file) still show.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(days: int, start: dt.date, seed: int, out: TextIO) -> int:
    """Simulate `days` days into the landing zone, run every day through the graph, print a summary."""
    import dagster as dg

    from ops_pipelines.definitions import defs
    from ops_pipelines.lib.sim import simulate_world

    landing = settings.landing_dir()
    if landing.exists():
        shutil.rmtree(landing)  # a rerun starts from the same world, byte for byte
    t0 = time.perf_counter()
    summary = simulate_world(landing, start, days, seed=seed)
    print(f"simulated {days} days from {start} (seed {seed}) into {landing} in {time.perf_counter() - t0:.1f}s", file=out)

    job = defs.resolve_job_def(DAILY_JOB)
    results = []
    with dg.DagsterInstance.get() as instance:
        for i in range(days):
            day = (start + dt.timedelta(days=i)).isoformat()
            t1 = time.perf_counter()
            result = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False, run_config=QUIET)
            results.append((day, result))
            state = "ok" if result.success else "FAILED"
            print(f"[{i + 1:>2}/{days}] {day} {state} in {time.perf_counter() - t1:.1f}s", file=out, flush=True)
    print_summary(results, summary.to_dict(), injected_bad_rows(landing), out)
    print_incidents(landing, out)
    print_llm_quality(landing, out)
    failed = [day for day, r in results if not r.success]
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


def print_summary(results, world: dict, injected: dict[str, int], out: TextIO) -> None:
    """Per asset: rows, quarantined rows (vs. what the simulator injected), unreadable files, checks."""
    from ops_pipelines.factories.ingestion import INGESTION_ASSETS

    totals: dict[str, dict[str, float]] = {}
    checks: dict[str, list[bool]] = {}
    for _, result in results:
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            name = mat.asset_key.to_user_string()
            agg = totals.setdefault(name, {})
            for key, value in mat.metadata.items():
                if isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
                    agg[key] = agg.get(key, 0) + value.value
        for evaluation in result.get_asset_check_evaluations():
            checks.setdefault(f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}", []).append(evaluation.passed)

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
            f"{'metric_anomalies':<22}{int(anomalies.get('dagster/row_count', 0)):>12,} points scored, "
            f"{int(anomalies.get('anomalous_points', 0)):,} flagged "
            f"({world.get('incidents', 0)} incidents were injected; see ground_truth/incidents.json)",
            file=out,
        )
    print("\nChecks (passed/evaluated)", file=out)
    for key, outcomes in sorted(checks.items()):
        print(f"  {key}: {sum(outcomes)}/{len(outcomes)}", file=out)
    print("\nWorld: " + ", ".join(f"{k}={v}" for k, v in world.items() if not isinstance(v, (dict, list))), file=out)
    print(f"\nData: {settings.data_home()} (asset Parquet in storage/, landing zone in landing/)", file=out)
    print("Open the Dagster UI:  .venv/bin/ops-pipelines ui   then browse http://127.0.0.1:3000", file=out)


def print_incidents(landing, out: TextIO) -> None:
    """Detected incidents with root cause and action, scored against the simulator's ground truth."""
    import json

    import pandas as pd

    from ops_pipelines.lib.aiops.evaluate import score_incidents

    storage = settings.storage_dir()
    frames = [f for f in (pd.read_parquet(p) for p in sorted((storage / "incidents").glob("*.parquet"))) if len(f)]
    if not frames:
        print("\nIncidents: none found", file=out)
        return
    found = pd.concat(frames, ignore_index=True).drop_duplicates("incident_id", keep="last")
    points = sum(int(pd.read_parquet(p, columns=["anomalous_points"])["anomalous_points"].sum())
                 for p in sorted((storage / "alert_noise_report").glob("*.parquet")))
    truth = json.loads((landing / "ground_truth" / "incidents.json").read_text())
    score = score_incidents(found, truth, points)
    print(f"\nIncidents: {len(found)} found, {len(truth)} injected; recall {score.recall:.2f}, precision "
          f"{score.precision:.2f}, root cause top-1 {score.top1:.2f}, top-3 {score.top3:.2f}; "
          f"{points:,} anomalous points -> {len(found)} incidents (compression {score.compression:.1%})", file=out)
    for row in found.sort_values("start").itertuples():
        print(f"  {row.start:%m-%d %H:%M}-{row.end:%H:%M} {row.severity:<8} root {row.root_cause:<18} {row.suggested_action[:90]}", file=out)


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
