"""Retraining, one (as-of day, model) partition at a time: dataset version -> gates -> candidate ->
evaluation against the champion -> alias decision. The retraining sensor launches it."""

import dagster as dg

from ops_pipelines import keys
from ops_pipelines.defs.mlops.drift import SOURCES
from ops_pipelines.defs.partitions import training_partitions
from ops_pipelines.io.parquet import StoredPartitions
from ops_pipelines.lib.tidy_metadata import tidy
from ops_pipelines.resources.dataset_store import DatasetStore
from ops_pipelines.resources.model_registry import ModelRegistry

CHECKS = ("dataset_meets_expectations", "features_are_finite", "schema_matches")
TRAINING_ASSETS = ("training_dataset", "candidate_model", "model_evaluation")


def _partition(context: dg.AssetExecutionContext) -> tuple[str, str]:
    key = context.partition_key.keys_by_dimension
    return key["date"], key["model"]


@dg.asset(
    partitions_def=training_partitions,
    group_name="mlops", owners=["team:mlops"],
    kinds={"parquet"},
    deps=[*SOURCES, "incidents"],
    check_specs=[dg.AssetCheckSpec(name, asset="training_dataset", blocking=True) for name in CHECKS],
)
def training_dataset(context: dg.AssetExecutionContext, model_registry: ModelRegistry, dataset_store: DatasetStore,
                     stored_partitions: StoredPartitions):
    """An immutable, content-addressed dataset version for one model: the training window's rows (from
    the run's `ops/window_start` tag, else the model's window), minus rows inside AIOps incident windows,
    with lineage; validated by the model's Great Expectations suite before anything trains on it."""
    import json
    import math

    import pandas as pd

    from ops_pipelines.lib.mlops.selection import select_training_rows, training_window_start
    from ops_pipelines.lib.mlops.training import code_version
    from ops_pipelines.lib.mlops.validation import validate_dataset

    day, model = _partition(context)
    spec = model_registry.spec(model)
    end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
    default_start = (end - pd.Timedelta(days=spec.training.window_days)).strftime("%Y-%m-%d")
    start = pd.Timestamp(context.run.tags.get(keys.WINDOW_START) or default_start, tz="UTC")
    if spec.evaluation.max_window_days:
        # Rare labels: grow the window back until the candidate has labels of each class to learn from.
        wide = [d.strftime("%Y-%m-%d") for d in pd.date_range(
            start - pd.Timedelta(days=math.ceil(spec.evaluation.max_window_days)), end - pd.Timedelta(days=1), freq="D")]
        start = training_window_start(stored_partitions.read(spec.source, stored_partitions.available(spec.source, wide)),
                                      spec, start, end, stored_partitions.read("incidents", wide + [end.strftime("%Y-%m-%d")]))
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range(start, end - pd.Timedelta(days=1), freq="D")]
    found = stored_partitions.available(spec.source, days)
    # Incidents that end the day after the window still cover its last minutes.
    incident_days = days + [end.strftime("%Y-%m-%d")]
    incidents = stored_partitions.read("incidents", incident_days)
    selection = select_training_rows(stored_partitions.read(spec.source, found), spec, start, end, incidents)
    validation = validate_dataset(selection.rows, spec)
    lineage = {
        **selection.to_lineage(),
        "created_at": day,
        "upstream_partitions": {spec.source: found, "incidents": stored_partitions.available("incidents", incident_days)},
        "validation": {"passed": validation.passed, "failures": validation.failures()},
        "code_version": code_version(spec),
        "run_id": context.run.run_id,
        "trigger": context.run.tags.get(keys.TRIGGER, "manual"),
    }
    version = dataset_store.write(model, selection.rows, lineage)
    context.log.info(f"{model}: dataset version {version.version} ({version.rows} rows), excluded {selection.excluded}")
    yield dg.Output(
        pd.DataFrame([{"model": model, "version": version.version, "path": str(version.path), "rows": version.rows,
                       "validation_passed": validation.passed}]),
        metadata={
            "dataset_version": version.version,
            keys.ROW_COUNT: version.rows,
            "path": dg.MetadataValue.path(str(version.path)),
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "upstream_partitions": dg.MetadataValue.json(lineage["upstream_partitions"]),
            "excluded_rows": dg.MetadataValue.json(selection.excluded),
            "excluded_incidents": ",".join(selection.incident_ids),
            "schema": dg.MetadataValue.json(version.lineage["schema"]),
            "code_version": lineage["code_version"],
        },
    )
    checks = validation.to_metadata()
    yield dg.AssetCheckResult(check_name="dataset_meets_expectations", passed=not any(
        not e["success"] for e in validation.expectations), metadata={**checks, "failures": json.dumps(validation.failures())})
    yield dg.AssetCheckResult(check_name="features_are_finite", passed=all(
        share <= validation.non_finite_limits.get(k, 0.0) for k, share in validation.non_finite_share.items()),
        metadata={f"non_finite_share/{k}": float(v) for k, v in validation.non_finite_share.items()})
    yield dg.AssetCheckResult(check_name="schema_matches", passed=not validation.schema_problems,
                              metadata={"problems": "; ".join(validation.schema_problems) or "none"})


@dg.asset(partitions_def=training_partitions, group_name="mlops", owners=["team:mlops"], kinds={"mlflow", "sklearn"})
def candidate_model(context: dg.AssetExecutionContext, training_dataset, model_registry: ModelRegistry,
                    dataset_store: DatasetStore):
    """The configured pipeline trained on the dataset version, logged to MLflow (params, metrics, dataset
    input, skops model) and registered as a new version of the model; or, when a version was already
    trained on the same dataset version with the same code and params, that version (`reused`)."""
    import time

    import pandas as pd

    from ops_pipelines.lib.mlops.explain import global_importance, log_importance
    from ops_pipelines.lib.mlops.reproduce import recorded_metrics
    from ops_pipelines.lib.mlops.selection import split_holdout
    from ops_pipelines.lib.mlops.training import identical_version, train_candidate

    day, model = _partition(context)
    spec, store, client = model_registry.spec(model), dataset_store, model_registry.client()
    version = store.get(model, str(training_dataset["version"].iloc[0]))
    if not version.lineage["validation"]["passed"]:  # the blocking checks stop the run first; never train on it
        raise dg.Failure(f"dataset version {version.version} failed validation: {version.lineage['validation']['failures']}")
    train, holdout = split_holdout(store.load(model, version.version), spec)
    same = identical_version(client, spec, version.version)
    if same is not None:
        # A re-run on the same data: the fit is deterministic, so a new version would be a copy (and win a tie).
        note = (f"v{same.version} was trained on dataset version {version.version} with the same code and params: "
                "reused, no new version registered")
        context.log.info(f"{model}: {note}")
        metrics = recorded_metrics(client, spec.registered_name, same.version)
        importance = version_importance(client, model_registry, spec, int(same.version), same.run_id, holdout)
        return dg.Output(
            pd.DataFrame([{"model": model, "registered_name": spec.registered_name, "version": int(same.version),
                           "run_id": same.run_id, "dataset_version": version.version, "reused": True, **metrics}]),
            metadata={"registered_model": spec.registered_name, "model_version": int(same.version),
                      "mlflow_run_id": same.run_id, "dataset_version": version.version, "reused": True,
                      "reuse_reason": note, "train_rows": len(train), "holdout_rows": len(holdout),
                      **{k: float(v) for k, v in metrics.items()}, **importance_metadata(importance)},
        )
    tags = {keys.MLFLOW_TRIGGER: context.run.tags.get(keys.TRIGGER, "manual"), keys.MLFLOW_AS_OF: day,
            keys.MLFLOW_DRIFT_EVENT: context.run.tags.get(keys.DRIFT_EVENT, ""),
            keys.MLFLOW_INCIDENTS_EXCLUDED: ",".join(version.lineage.get("incident_ids", [])),
            keys.MLFLOW_DAGSTER_RUN_ID: context.run.run_id}
    candidate = train_candidate(spec, version, train, holdout, client=client, tags=tags)
    started = time.perf_counter()
    importance = global_importance(candidate.model, holdout, spec)
    log_importance(client, candidate.run_id, importance)
    context.log.info(f"{model} v{candidate.version}: importance in {time.perf_counter() - started:.2f} s")
    return dg.Output(
        pd.DataFrame([{"model": model, "registered_name": spec.registered_name, "version": candidate.version,
                       "run_id": candidate.run_id, "dataset_version": version.version, "reused": False,
                       **candidate.metrics}]),
        metadata={"registered_model": spec.registered_name, "model_version": candidate.version, "mlflow_run_id": candidate.run_id,
                  "dataset_version": version.version, "reused": False, "train_rows": len(train), "holdout_rows": len(holdout),
                  **{k: float(v) for k, v in candidate.metrics.items()}, **importance_metadata(importance)},
    )


@dg.asset(partitions_def=training_partitions, group_name="mlops", owners=["team:mlops"], kinds={"mlflow"})
def model_evaluation(context: dg.AssetExecutionContext, candidate_model, training_dataset, model_registry: ModelRegistry,
                     dataset_store: DatasetStore):
    """Candidate vs champion on the same window (the dataset's holdout, later than the candidate's
    training rows, grown back for a rare-label model until each class has enough labels), overall and per
    slice; the `champion` alias moves only when the gate passes, otherwise the candidate becomes
    `challenger`. Decision, reason and window go to metadata and MLflow tags."""
    import json

    import pandas as pd

    from ops_pipelines.lib.mlops.evaluation import apply_decision, compare
    from ops_pipelines.lib.mlops.registry import champion_version, load_version
    from ops_pipelines.lib.mlops.selection import split_evaluation

    day, model = _partition(context)
    spec, store, client = model_registry.spec(model), dataset_store, model_registry.client()
    _, holdout, window = split_evaluation(store.load(model, str(training_dataset["version"].iloc[0])), spec)
    version = int(candidate_model["version"].iloc[0])
    current = champion_version(client, spec.registered_name)
    if current is not None and int(current.version) == version:
        # Reused by candidate_model: the champion against itself would be a tie, decided by nothing.
        reason = f"v{version} is already the champion (same dataset version, code and params): nothing to decide."
        context.log.info(f"{model} v{version}: unchanged: {reason}")
        return dg.Output(
            pd.DataFrame([{"model": model, "as_of": day, "candidate_version": version, "champion_version": version,
                           "decision": "unchanged", "reason": reason, "candidate_metric": float("nan"),
                           "champion_metric": float("nan")}]),
            metadata={"decision": "unchanged", "reason": reason, "candidate_version": version,
                      "previous_champion": version, "reused": True},
        )
    champion = load_version(client, spec.registered_name, int(current.version)) if current is not None else None
    candidate = load_version(client, spec.registered_name, version)
    evaluation = compare(spec, candidate, champion, holdout,
                         champion_version=int(current.version) if current is not None else None, window_info=window)
    decision = apply_decision(client, spec, version, evaluation)
    context.log.info(f"{model} v{version}: {decision}: {evaluation.reason}")
    return dg.Output(
        pd.DataFrame([{"model": model, "as_of": day, "candidate_version": version,
                       "champion_version": int(current.version) if current is not None else None,
                       "decision": decision, "reason": evaluation.reason,
                       "candidate_metric": evaluation.candidate_metric, "champion_metric": evaluation.champion_metric,
                       "window_start": window.start.isoformat(), "window_end": window.end.isoformat(),
                       "window_days": window.days, "window_labels": json.dumps(window.labels, sort_keys=True)}]),
        metadata=tidy({"decision": decision, "reason": evaluation.reason, "candidate_version": version,
                       "previous_champion": int(current.version) if current is not None else 0,
                       "reused": bool(candidate_model["reused"].iloc[0]) if "reused" in candidate_model else False,
                       **evaluation.to_metadata(), "groups": _groups_table(evaluation, spec),
                       "importance_change": importance_change_metadata(context, spec, candidate, champion, holdout)}),
    )


def version_importance(client, model_registry: ModelRegistry, spec, version: int, run_id: str, holdout):
    """The importance logged on a version's run; computed on `holdout` and logged when it has none (a version
    registered before importances were)."""
    from ops_pipelines.lib.mlops.explain import global_importance, log_importance, recorded_importance

    found = recorded_importance(client, run_id)
    if found is None:
        found = global_importance(model_registry.load(spec.name, version), holdout, spec)
        log_importance(client, run_id, found)
    return found


def importance_metadata(importance) -> dict:
    """The version's permutation importance as a bar chart (Markdown) and its most important input column."""
    from ops_pipelines.lib.mlops.explain import importance_table

    ranked = importance.ranked()
    return {"importance": dg.MetadataValue.md(importance_table(importance)), "importance_metric": importance.metric,
            "top_feature": ranked[0][0] if ranked else ""}


def importance_change_metadata(context: dg.AssetExecutionContext, spec, candidate, champion, window) -> dg.MetadataValue:
    """Champion vs candidate permutation importance on the same evaluation window, as one Markdown table."""
    import time

    from ops_pipelines.lib.mlops.explain import change_table, global_importance, importance_change

    started = time.perf_counter()
    mine = global_importance(candidate, window, spec)
    theirs = global_importance(champion, window, spec) if champion is not None else None
    context.log.info(f"{spec.name}: importance change in {time.perf_counter() - started:.2f} s")
    return dg.MetadataValue.md(change_table(importance_change(mine, theirs), mine.metric))


def _groups_table(evaluation, spec):
    """Bias across groups: both models per group (None without group columns or champion; tidy leaves it out)."""
    from ops_pipelines.lib.mlops.fairness import gate_table

    return dg.MetadataValue.md(gate_table(evaluation.groups, spec.fairness.metric)) if evaluation.groups else None
