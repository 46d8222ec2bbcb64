"""`python -m ops_pipelines.code_server ARGS`: `dagster api grpc ARGS`, whose run workers start warm.

Dagster's gRPC server starts each run worker with multiprocessing's "spawn": a fresh interpreter that imports
Dagster, the code location, pandas, scikit-learn, Evidently, MLflow and Great Expectations again, about 7 s of
every run (a demo day's run took 13-15 s). Here run workers come from a "forkserver" that imported them once:
each run is still a process of its own (isolated, cancelable, as the queue and the daemon expect), forked with
the imports done. The commands that start code servers for their own runs (`demo`, `run`, `ui`) use it; a
deployment's own code server (`dagster code-server start`) works as before, with cold run workers.
"""

from __future__ import annotations

import multiprocessing
import sys

# What every run of the graph imports; a module missing here is imported by the run that needs it, as before.
PRELOAD = ("ops_pipelines.definitions", "pandas", "pyarrow.parquet", "sklearn.ensemble", "sklearn.linear_model",
           "evidently", "mlflow", "great_expectations")


def warm_run_workers(preload: tuple[str, ...] = PRELOAD) -> None:
    """Make every Dagster gRPC server of this process start its run workers from a forkserver that imports
    `preload` once (started with the first run unless started before)."""
    from dagster._grpc import server

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    init = server.DagsterApiServer.__init__
    if not hasattr(server.DagsterApiServer, "StartRun"):  # the method whose processes this changes
        raise RuntimeError("this Dagster's gRPC server has no StartRun: ops_pipelines.code_server needs updating")

    def warm_init(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        if not hasattr(self, "_mp_ctx"):
            raise RuntimeError("this Dagster's gRPC server has no _mp_ctx: ops_pipelines.code_server needs updating")
        self._mp_ctx = context  # Dagster sets "spawn" here, used for run workers only (StartRun)

    server.DagsterApiServer.__init__ = warm_init


def main(argv: list[str]) -> None:
    from multiprocessing import forkserver

    from dagster._cli import cli

    warm_run_workers()
    forkserver.ensure_running()  # its imports now, beside the server's own loading, not in the first run's time
    cli(args=["api", "grpc", *argv], prog_name="dagster", auto_envvar_prefix="DAGSTER_CLI")


if __name__ == "__main__":
    main(sys.argv[1:])
