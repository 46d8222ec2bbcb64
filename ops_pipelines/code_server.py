"""`python -m ops_pipelines.code_server code-server start ARGS`: Dagster's code server, whose run workers start warm.

Dagster's gRPC server starts each run worker with multiprocessing's "spawn": a fresh interpreter that imports
Dagster, the code location, pandas, scikit-learn, Evidently, MLflow and Great Expectations again, about 7 s of
every run (a demo day's run took 13-15 s). Here run workers come from a "forkserver" that imported them once:
each run is still a process of its own (isolated, cancelable, as the queue and the daemon expect), forked with
the imports done. `code-server start` runs `api grpc` in a child it restarts on "Reload" in the UI; that child is
this module too, so a reload gets a new forkserver with the new code. The commands that start code servers
(`demo`, `run`, `ui`) use it; a deployment's own `dagster code-server start` works as before, cold.
"""

from __future__ import annotations

import multiprocessing
import sys

MODULE = "ops_pipelines.code_server"
# What every run of the graph imports; a module missing here is imported by the run that needs it, as before.
PRELOAD = ("ops_pipelines.definitions", "pandas", "pyarrow.parquet", "sklearn.ensemble", "sklearn.linear_model",
           "evidently", "mlflow.store.tracking.sqlalchemy_store", "great_expectations", "skops.io",
           "matplotlib.figure", "dagster._core.storage.event_log.sqlite", "dagster._core.storage.runs.sqlite",
           "ops_pipelines.lib.aiops.kernel")
# The detector kernel imports numba, which reads NUMBA_CACHE_DIR once, when imported: `main` sets the folder
# (settings.use_compiled_cache, as a run does before its first import) before the forkserver imports it, or
# every run would compile the kernels afresh.

# The embeddings extra's, when it is installed and switched on (the LLM scorers then import them in every day's run).
EMBEDDINGS_PRELOAD = ("torch", "sentence_transformers")


def preload() -> tuple[str, ...]:
    """The modules the forkserver imports: PRELOAD, and EMBEDDINGS_PRELOAD where the scorers use embeddings."""
    from ops_pipelines.lib.llmops import embeddings

    return PRELOAD + (EMBEDDINGS_PRELOAD if embeddings.available() else ())


def warm_run_workers(modules: tuple[str, ...]) -> None:
    """Make every Dagster gRPC server of this process start its run workers from a forkserver that imports
    `modules` once (started with the first run unless started before)."""
    from dagster._grpc import server

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(modules))
    init = server.DagsterApiServer.__init__

    def warm_init(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        if not hasattr(self, "_mp_ctx"):
            raise RuntimeError(f"this Dagster's gRPC server has no _mp_ctx: {MODULE} needs updating")
        self._mp_ctx = context  # Dagster sets "spawn" here, used for run workers only (StartRun)

    server.DagsterApiServer.__init__ = warm_init


def serve_children_from_here() -> None:
    """Make `code-server start` run its `api grpc` child through this module instead of `python -m dagster`."""
    from dagster._grpc import server

    if not hasattr(server, "get_python_environment_entry_point"):
        raise RuntimeError(f"this Dagster's code server has no get_python_environment_entry_point: {MODULE} needs updating")
    server.get_python_environment_entry_point = lambda executable: [executable, "-m", MODULE]


def main(argv: list[str]) -> None:
    """`python -m dagster ARGV`, with warm run workers for `api grpc` and a warm child for `code-server start`."""
    from multiprocessing import forkserver

    from dagster._cli import cli

    if argv[:2] == ["api", "grpc"]:
        from ops_pipelines import settings

        settings.use_compiled_cache()  # in the environment the forkserver starts with
        warm_run_workers(preload())
        forkserver.ensure_running()  # its imports now, beside the server's own loading, not in the first run's time
    elif argv[:2] == ["code-server", "start"]:
        serve_children_from_here()
    cli(args=argv, prog_name="dagster", auto_envvar_prefix="DAGSTER_CLI")


if __name__ == "__main__":
    main(sys.argv[1:])
