"""The code server the CLI starts: its run workers fork from a process that imported the code location once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ops_pipelines import runner
from tests.procs import processes

# A script of its own: warm_run_workers changes a Dagster class and this interpreter's forkserver for good.
PROBE = textwrap.dedent('''
    import logging, sys, threading

    def imported(queue, name):
        queue.put(name in sys.modules)

    if __name__ == "__main__":
        from dagster._core.utils import FuturesAwareThreadPoolExecutor
        from dagster._grpc.server import DagsterApiServer
        from ops_pipelines.code_server import warm_run_workers

        warm_run_workers(("colorsys",))  # a module nothing here imports
        server = DagsterApiServer(threading.Event(), logging.getLogger("probe"), FuturesAwareThreadPoolExecutor(1))
        context = server._mp_ctx  # what StartRun starts run workers with
        queue = context.Queue()
        worker = context.Process(target=imported, args=(queue, "colorsys"))
        worker.start()
        worker.join(60)
        print(context.get_start_method(), queue.get(timeout=5), "colorsys" in sys.modules)
''')


def test_run_workers_fork_with_the_preloaded_imports_done(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    done = subprocess.run([sys.executable, "probe.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # forkserver; the worker had the module before its target ran; the server process itself never imported it
    assert done.stdout.split() == ["forkserver", "True", "False"]


def _descendants(pid: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every live process below `pid`."""
    procs = {p.pid: (p.ppid, p.cmdline) for p in processes()}
    found, parents = [], {pid}
    while True:
        more = [(p, pp, cmd) for p, (pp, cmd) in procs.items() if pp in parents and p not in {f[0] for f in found}]
        if not more:
            return found
        found += more
        parents |= {p for p, _, _ in more}


def test_the_cli_code_server_serves_from_a_warm_child_with_a_forkserver(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # the data home's folder, below
    env.update(DAGSTER_HOME=str(tmp_path / "dagster"), OPS_PIPELINES_HOME=str(tmp_path / "home"))
    (tmp_path / "dagster").mkdir()
    with runner.code_server(env, tmp_path / "code-server.log"):  # returns once the code location answers
        below = _descendants(os.getpid())
        environs = {p.pid: p.environ() for p in processes() if "multiprocessing.forkserver" in p.cmdline}
    servers = [(p, cmd) for p, _, cmd in below if "ops_pipelines.code_server api grpc" in cmd]
    assert len(servers) == 1, below  # `code-server start` ran its child through our module
    forkservers = [(pid, pp) for pid, pp, cmd in below if "multiprocessing.forkserver" in cmd]
    assert [pp for _, pp in forkservers] == [servers[0][0]], below  # the child started its forkserver before any run
    # It imports the detector kernel, so numba, whose cache folder is read at import: the data home's, set before.
    assert f"NUMBA_CACHE_DIR={tmp_path / 'home' / 'cache' / 'numba'}".encode() in environs[forkservers[0][0]]


def test_every_preloaded_module_exists():
    # The forkserver skips a module it cannot import without a word: a renamed one would only cost time.
    code = ("import importlib.util; from ops_pipelines.code_server import PRELOAD; "
            "print([m for m in PRELOAD if importlib.util.find_spec(m) is None])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[]"]
