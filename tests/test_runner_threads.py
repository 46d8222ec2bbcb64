"""The processes the CLI starts (code server, daemon, and the run workers they start) run one OpenMP/BLAS thread
unless the caller's environment sets another count."""

import sys

from ops_pipelines import runner


def test_children_get_one_openmp_thread_unless_the_environment_names_a_count(tmp_path):
    code = "import os; print(os.environ.get('OMP_NUM_THREADS'))"
    for env, expected in (({}, "1"), ({"OMP_NUM_THREADS": "4"}, "4")):
        log = tmp_path / f"child-{expected}.log"
        proc = runner.start_process([sys.executable, "-c", code], {"PYTHONPATH": "", **env}, log)
        proc.wait(timeout=60)
        runner.stop_process(proc)
        assert log.read_text().strip() == expected
