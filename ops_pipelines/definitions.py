"""The ops_pipelines code location: everything under defs/, loaded once, with the project-wide policies."""

import warnings
from pathlib import Path

import dagster as dg

from ops_pipelines.defs.mlops.training import TRAINING_ASSETS

# Downstream daily assets follow their inputs: when a partition lands (the landing-zone sensor's ingestion runs,
# a partition re-run in the UI), what reads it materializes too. `eager` waits for every input of the
# partition and skips assets already in a run, so the daily job and the nightly schedule (which do the whole
# day in one run) set nothing off. Training stays with the retraining sensor.
AUTOMATION = dg.AutomationCondition.eager()


def _follow_inputs(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Downstream daily assets (those with inputs; not training) get the automation condition."""
    if not spec.deps or spec.key.to_user_string() in TRAINING_ASSETS:
        return spec
    return spec.replace_attributes(automation_condition=AUTOMATION)


with warnings.catch_warnings():  # map_asset_specs is "preview" in 1.13: said on every load, it is log noise
    warnings.simplefilter("ignore", dg.PreviewWarning)
    defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent).map_asset_specs(func=_follow_inputs)
