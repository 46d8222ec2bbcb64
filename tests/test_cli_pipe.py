"""A command whose reader goes away (`ops-pipelines ... | head -1`) ends quietly, without a traceback."""

import subprocess
import sys


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "ops_pipelines.cli", "simulate", "--days", "1", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes (as `head` is once it has its lines)
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
