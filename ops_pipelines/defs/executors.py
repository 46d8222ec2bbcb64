"""Which executor `daily_job` runs its steps with: one switch, `OPS_PIPELINES_EXECUTOR`, read at load.

- unset or `default`: the job's own default (see jobs.py);
- `in_process` / `multiprocess`: Dagster's executors on this machine;
- `celery`: dagster-celery's executor (the `celery` extra) on a Redis broker and result backend,
  `OPS_CELERY_BROKER` / `OPS_CELERY_BACKEND` (default `redis://127.0.0.1:6379/0`). Workers started with
  `dagster-celery worker start` run the steps; they need the same environment (data home, instance).
"""

import os

import dagster as dg

EXECUTOR_ENV = "OPS_PIPELINES_EXECUTOR"
BROKER_ENV = "OPS_CELERY_BROKER"
BACKEND_ENV = "OPS_CELERY_BACKEND"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
CHOICES = ("default", "in_process", "multiprocess", "celery")


def celery_config() -> dict:
    """The executor config the workers must be started with too (`dagster-celery worker start -y`)."""
    # A Redis result backend, not rpc://: results must outlive the submitting process (PITFALLS.md).
    # Late acks + reject on a lost worker: a step whose worker process dies is handed to another worker. With
    # dagster-celery's early acks the step fails instead, and its executor then waits forever for the steps it
    # stopped submitting (0.29.27); our partition writes are atomic and idempotent, so running a step again is safe.
    return {"broker": os.environ.get(BROKER_ENV) or DEFAULT_REDIS, "backend": os.environ.get(BACKEND_ENV) or DEFAULT_REDIS,
            "config_source": {"task_acks_late": True, "task_reject_on_worker_lost": True}}


def daily_executor(default: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """The executor chosen by `OPS_PIPELINES_EXECUTOR`, `default` when unset."""
    choice = (os.environ.get(EXECUTOR_ENV) or "default").strip()
    if choice == "default":
        return default
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError:
            raise ImportError(f"{EXECUTOR_ENV}=celery needs the celery extra: pip install -e '.[celery]'") from None
        return celery_executor.configured(celery_config(), name="celery")
    raise ValueError(f"{EXECUTOR_ENV}={choice!r} is not one of {', '.join(CHOICES)}")
