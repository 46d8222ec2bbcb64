"""OPS_PIPELINES_EXECUTOR picks daily_job's executor; unset, the job keeps its own default."""

import dagster as dg
import pytest

from ops_pipelines.defs.executors import EXECUTOR_ENV, celery_config, daily_executor


def test_unset_keeps_the_default(monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert daily_executor(dg.in_process_executor) is dg.in_process_executor
    assert daily_executor(dg.multiprocess_executor) is dg.multiprocess_executor


@pytest.mark.parametrize("choice, name", [("in_process", "in_process"), ("multiprocess", "multiprocess"), ("celery", "celery")])
def test_each_choice_gives_its_executor(monkeypatch, choice, name):
    pytest.importorskip("dagster_celery")
    monkeypatch.setenv(EXECUTOR_ENV, choice)
    assert daily_executor(dg.in_process_executor).name == name


def test_celery_talks_to_redis_on_loopback_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("OPS_CELERY_BROKER", raising=False)
    monkeypatch.setenv("OPS_CELERY_BACKEND", "redis://10.0.0.5:6380/1")
    config = celery_config()
    assert (config["broker"], config["backend"]) == ("redis://127.0.0.1:6379/0", "redis://10.0.0.5:6380/1")
    assert config["config_source"]["task_acks_late"] and config["config_source"]["task_reject_on_worker_lost"]


def test_an_unknown_executor_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "dask")
    with pytest.raises(ValueError, match="OPS_PIPELINES_EXECUTOR='dask' is not one of"):
        daily_executor(dg.in_process_executor)
