"""What a sharded run leaves under storage/.steps: the joining step drops its own run's folder, and the folders
earlier runs left (a run that failed before its join) once they ended more than a day ago, never a live run's."""

import os
import time
import uuid

import dagster as dg
import numpy as np

from ops_pipelines.io.parquet import STEP_OUTPUTS_KEPT_S, StepOutputs


def leftover(outputs: StepOutputs, run_id: str) -> None:
    """A shard's output as a run writes it."""
    outputs.write((run_id, "metric_anomalies.metric_shard_scores[shard0_of_2]", "result"), {"anomaly_score": np.ones(3)})


def run_with_status(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="daily_job", run_id=run_id, status=status))
    return run_id


def test_old_leftovers_of_ended_runs_go_and_live_or_recent_ones_stay(tmp_path):
    outputs = StepOutputs(tmp_path)
    with dg.instance_for_test() as instance:
        failed = run_with_status(instance, dg.DagsterRunStatus.FAILURE)
        going = run_with_status(instance, dg.DagsterRunStatus.STARTED)
        waiting = run_with_status(instance, dg.DagsterRunStatus.NOT_STARTED)
        unknown_old, unknown_new = str(uuid.uuid4()), str(uuid.uuid4())
        for run_id in (failed, going, waiting, unknown_old, unknown_new):
            leftover(outputs, run_id)
        day_ago = time.time() - STEP_OUTPUTS_KEPT_S - 60
        os.utime(outputs.run_dir(unknown_old), (day_ago, day_ago))

        # now: the failed run ended moments ago (its retry may still read them); the unknown old folder goes
        assert outputs.sweep(instance, time.time()) == [unknown_old]
        later = time.time() + STEP_OUTPUTS_KEPT_S + 60
        assert outputs.sweep(instance, later) == sorted([failed, unknown_new])
        assert sorted(p.name for p in (tmp_path / ".steps").iterdir()) == sorted([going, waiting])
        assert outputs.read((going, "metric_anomalies.metric_shard_scores[shard0_of_2]", "result"))["anomaly_score"].sum() == 3


def test_nothing_to_sweep_without_a_steps_folder(tmp_path):
    with dg.instance_for_test() as instance:
        assert StepOutputs(tmp_path).sweep(instance, time.time()) == []
