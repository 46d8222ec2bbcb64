"""Daily drift report per monitored model, and the retraining decision the sensor acts on."""

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.partitions import PREVIOUS_DAY, daily_partitions
from ops_pipelines.io.parquet import StoredPartitions
from ops_pipelines.lib.files import atomic_write_text
from ops_pipelines.lib.mlops.config import load_models
from ops_pipelines.lib.tidy_metadata import tidy
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.model_registry import ModelRegistry
from ops_pipelines.resources.state_store import StateStore, state_check_spec

ASSET = "drift_report"
GROUPS_CHECK = "groups_within_quality_margin"
RETRAINING_JOB = "retraining_job"
# How long a day's report waits for retraining runs of earlier days before it fails (they hold its champion).
RETRAINING_WAIT_S = 1800
# Every source asset a configured model reads: adding a model with a new source adds the edge.
SOURCES = sorted({spec.source for spec in load_models()})


@dg.asset(
    name=ASSET,
    partitions_def=daily_partitions,
    group_name="mlops", owners=["team:mlops"],
    kinds={"evidently", "pandas"},
    # Yesterday's report is an input: the drift streak and the last retraining request carry over.
    ins={"incidents": dg.AssetIn(),
         "previous": dg.AssetIn(ASSET, partition_mapping=PREVIOUS_DAY)},
    deps=SOURCES,
    check_specs=[state_check_spec(ASSET),
                 dg.AssetCheckSpec(GROUPS_CHECK, asset=ASSET, blocking=False,
                                   description="No group (models.json `fairness.groups`) fell more than the model's margin "
                                               "below the rest with 95% confidence, against the champion's holdout (warns).")],
)
def drift_report(context: dg.AssetExecutionContext, incidents, previous, model_registry: ModelRegistry,
                 dataset_store: DatasetStore, stored_partitions: StoredPartitions, state_store: StateStore):
    """Per model: feature drift of the day against the champion's training dataset version (Evidently
    methods and defaults, computed fast), prediction and label drift, the champion's performance on the
    day's labels, and whether to retrain (one run key per drift event); Evidently's HTML page is
    drift_report_html's. A re-run of a day whose champion was trained on that day or later says so and
    asks for no retraining."""
    import dataclasses
    import json
    import math

    import pandas as pd

    from ops_pipelines.lib.mlops.fairness import champion_groups
    from ops_pipelines.lib.mlops.monitoring import fitted_until, load_champion, monitor_model

    day = context.partition_key
    waited = await_earlier_retraining(context, day)
    day_ts = pd.Timestamp(day)
    yesterday = (day_ts - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    previous_by_model = {r["model"]: r for r in previous.to_dict("records")} if len(previous) else {}
    client, store = model_registry.client(), dataset_store
    overlapping = incident_ids_on(incidents, day_ts)
    rows, metadata, flagged = [], {}, {}
    for spec in model_registry.models():
        current = stored_partitions.read(spec.source, [day])
        champion = load_champion(client, spec)
        reference = store.load(spec.name, champion.dataset_version) if champion else None
        trained_through = store.get(spec.name, champion.dataset_version).lineage.get("created_at") if champion else None
        window = [(day_ts - pd.Timedelta(days=i)).strftime("%Y-%m-%d") for i in range(spec.training.window_days)]
        history = None
        if champion is not None and spec.evaluation.max_window_days:
            # A rare-label model's evaluation window grows back into earlier days (never into fitted rows).
            champion = dataclasses.replace(champion, fitted_until=fitted_until(reference, spec))
            back = [(day_ts - pd.Timedelta(days=i)).strftime("%Y-%m-%d")
                    for i in range(math.ceil(spec.evaluation.max_window_days), 0, -1)]
            history = stored_partitions.read(spec.source, stored_partitions.available(spec.source, back))
        result, drift = monitor_model(spec, day_ts, current, champion, reference, previous_by_model.get(spec.name),
                                      len(stored_partitions.available(spec.source, window)), overlapping,
                                      champion_trained_through=trained_through, history=history)
        metadata.update(model_metadata(spec, result, drift))
        groups = champion_groups(spec, day_ts, current, champion, reference, history)
        if groups is not None:
            metadata.update(groups_metadata(spec.name, groups))
            flagged[spec.name] = groups.flagged_text()
        row = result.to_dict()
        row["drifted_columns"] = json.dumps(row["drifted_columns"])
        row["incidents"] = json.dumps(row["incidents"])
        row["evaluation_window"] = json.dumps(row["evaluation_window"], sort_keys=True) if row["evaluation_window"] else ""
        row["columns"] = json.dumps(drift.to_dict()["columns"]) if drift is not None else "{}"
        row["groups"] = json.dumps(groups.to_dict(), sort_keys=True) if groups is not None else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    metadata["summary"] = dg.MetadataValue.md(summary_table(out))
    metadata["models_drifted"] = int(out["dataset_drift"].sum())
    metadata["retraining_requested"] = int((out["retrain_key"] != "").sum())
    if waited:
        metadata["waited_for_retraining"] = ", ".join(waited)
    # The drift streak is carried from yesterday's report: keep it as state so a re-run shows what it made stale.
    atomic_write_text(state_store.path(ASSET, day, ".json"), carried_streak(rows))
    before = state_store.path(ASSET, yesterday, ".json")
    two_days_ago = (day_ts - pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    state_store.record(ASSET, day, {ASSET: before if before.exists() else None}, since=two_days_ago)
    yield dg.Output(out, metadata={"dagster/row_count": len(out), **metadata})
    yield state_store.state_check(context, ASSET)
    warned = {model: text for model, text in flagged.items() if text}
    yield dg.AssetCheckResult(check_name=GROUPS_CHECK, passed=not warned, severity=dg.AssetCheckSeverity.WARN,
                              metadata={"models_judged": len(flagged), "flagged": "; ".join(f"{m}: {t}" for m, t in warned.items())
                                        or "none"})


def await_earlier_retraining(context: dg.AssetExecutionContext, day: str) -> list[str]:
    """Wait until no retraining run of an earlier day is queued or running (the champion it may promote is the
    one this day is compared with, whichever run finishes first); the run ids waited for. A day can then start
    while the day before still retrains: only this step waits. Fails after RETRAINING_WAIT_S."""
    import time

    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    deadline, waited = time.monotonic() + RETRAINING_WAIT_S, []
    while True:
        runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=RETRAINING_JOB, statuses=active))
        earlier = sorted(r.run_id for r in runs if r.tags.get(keys.PARTITION_DATE, day) < day)
        if not earlier:
            return waited
        if not waited:
            context.log.info(f"waiting for {len(earlier)} retraining run(s) of earlier days: {', '.join(earlier)}")
        waited += [r for r in earlier if r not in waited]
        if time.monotonic() > deadline:
            raise dg.Failure(f"retraining runs of earlier days still unfinished after {RETRAINING_WAIT_S}s: "
                             f"{', '.join(earlier)}; re-run {day} when they are done")
        time.sleep(0.5)


def carried_streak(rows: list[dict]) -> str:
    """What the next day's report reads from this one, per model (canonical JSON: same rows, same bytes)."""
    import json
    import math

    def version(value):
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)

    return json.dumps({r["model"]: {"champion_version": version(r["champion_version"]), "retrain_reason": r["retrain_reason"],
                                    "streak_start": r["streak_start"]} for r in rows}, sort_keys=True) + "\n"


def model_metadata(spec, result, drift) -> dict:
    """`<model>/...` metadata: the drift share (plotted over time by the UI), the per-column table,
    performance, and the retraining request the sensor reads."""
    prefix, meta = spec.name, {}
    if drift is not None:
        meta[f"{prefix}/drift_share"] = float(drift.drift_share)
        # Per column: one table (method, score, threshold, verdict), not three keys a column.
        meta[f"{prefix}/columns"] = dg.MetadataValue.md(drift_table(drift))
    for name in ("prediction_drift", "label_drift"):
        if getattr(result, name) is not None:
            meta[f"{prefix}/{name}"] = bool(getattr(result, name))
    if result.performance is not None:
        meta[f"{prefix}/{spec.drift.performance_metric}"] = float(result.performance)
    if result.evaluation_window:
        window = result.evaluation_window
        meta[f"{prefix}/evaluation_window"] = dg.MetadataValue.json(window)
        meta[f"{prefix}/evaluation_window_days"] = float(window["days"])
    if result.champion_version is not None:
        meta[f"{prefix}/champion_version"] = int(result.champion_version)
        meta[f"{prefix}/champion_trained_through"] = result.champion_trained_through or ""
        meta[f"{prefix}/champion_after_day"] = bool(result.champion_after_day)
    meta[f"{prefix}/dataset_drift"] = bool(result.dataset_drift)
    meta[keys.model_key(prefix, keys.RETRAIN_KEY)] = result.retrain_key
    meta[keys.model_key(prefix, keys.RETRAIN_REASON)] = result.retrain_reason
    meta[keys.model_key(prefix, keys.WINDOW_START_DAY)] = result.window_start or ""
    meta[keys.model_key(prefix, keys.INCIDENTS)] = ",".join(result.incidents)
    if result.note:
        meta[f"{prefix}/note"] = result.note
    return tidy(meta)  # an empty retrain_key is left out: the sensor reads a missing one as "nothing to do"


def groups_metadata(model: str, groups) -> dict:
    """`<model>/groups` (one table: per group metric, gap to the rest, its change, verdict), the largest disparity
    and the number of flagged groups."""
    meta = {f"{model}/groups": dg.MetadataValue.md(groups.table()), f"{model}/groups_flagged": len(groups.flagged),
            f"{model}/max_disparity": groups.max_disparity()}
    return tidy(meta)


def incident_ids_on(incidents, day_ts) -> list[str]:
    """Incidents whose window overlaps the day (the incidents partition holds those that ended in it)."""
    import pandas as pd

    if incidents is None or not len(incidents):
        return []
    start = day_ts.tz_localize("UTC")
    hit = (incidents["start"] < start + pd.Timedelta(days=1)) & (incidents["end"] >= start)
    return sorted(incidents.loc[hit, "incident_id"].astype(str).unique())


def drift_table(drift) -> str:
    from ops_pipelines.lib.markdown import table

    return table(["column", "method", "score", "threshold", "drifted"],
                 [[name, col.method, f"{col.score:.4g}", f"{col.threshold:.4g}", "yes" if col.drifted else "no"]
                  for name, col in drift.columns.items()])


def summary_table(out) -> str:
    import pandas as pd

    from ops_pipelines.lib.markdown import table

    rows = []
    for r in out.to_dict("records"):
        share = "-" if pd.isna(r["drift_share"]) else f"{r['drift_share']:.2f}"
        perf = "-" if pd.isna(r["performance"]) else f"{r['performance']:.3f}"
        champion = "-" if pd.isna(r["champion_version"]) else f"v{int(r['champion_version'])}"
        rows.append([r["model"], champion, share, "yes" if r["dataset_drift"] else "no", perf,
                     r["retrain_reason"] or r["note"] or "-"])
    return table(["model", "champion", "drift share", "drifted", "performance", "retrain"], rows)
