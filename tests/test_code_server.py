"""The code server the CLI starts: its run workers fork from a process that imported the code location once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
