"""Two runs of the same day at the same moment outside the queue (e.g. two people executing it by hand): both
succeed and leave exactly the bytes one run leaves. (Through the queue the per-day limit serialises them:
tests/fault_injection/test_run_worker.py.)"""

import json
import subprocess
import sys
import time

import pytest

from tests.fault_injection.harness import DAY, day_files, drop_day, selection, small_world, unfinished_writes, wait

pytestmark = pytest.mark.fault_injection

# Each process loads the code location, waits at a barrier, then executes daily_job's selection in process.
SCRIPT = """
import json, sys, time
from pathlib import Path
import dagster as dg
from ops_pipelines.definitions import defs

work, name, day, keys = Path(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
job = defs.resolve_job_def("daily_job")
(work / f"{name}.ready").touch()
while not (work / "go").exists():
    time.sleep(0.01)
t0 = time.time()
result = job.execute_in_process(partition_key=day, asset_selection=[dg.AssetKey(k) for k in keys], raise_on_error=False)
(work / f"{name}.json").write_text(json.dumps({"start": t0, "end": time.time(), "success": result.success}))
"""


def start(tmp_path, name: str, env: dict) -> subprocess.Popen:
    keys = json.dumps(selection())
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), name, DAY, keys], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_together(tmp_path, names: list[str], env: dict) -> list[dict]:
    (tmp_path / "go").unlink(missing_ok=True)
    procs = [start(tmp_path, name, env) for name in names]
    wait(lambda: all((tmp_path / f"{n}.ready").exists() for n in names) or any(p.poll() is not None for p in procs),
         "the processes to load the code location", poll=0.05)
    (tmp_path / "go").touch()
    for proc in procs:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output[-3000:]
    return [json.loads((tmp_path / f"{n}.json").read_text()) for n in names]


def test_two_runs_of_one_day_at_once_outside_the_queue_leave_the_bytes_of_one(tmp_path):
    import os

    home = tmp_path / "home"
    small_world(home / "landing", tmp_path)
    env = {**os.environ, "OPS_PIPELINES_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("DAGSTER_HOME", None)  # ephemeral instances: only the data home is shared, as on shared storage

    [solo] = run_together(tmp_path, ["solo"], env)
    assert solo["success"]
    reference = day_files(home)
    assert len(reference) >= 20

    drop_day(home)
    t0 = time.time()
    a, b = run_together(tmp_path, ["a", "b"], env)
    assert a["success"] and b["success"]
    assert a["start"] < b["end"] and b["start"] < a["end"]  # they really ran at the same time
    after = day_files(home)
    assert sorted(after) == sorted(reference) and [p for p in after if after[p] != reference[p]] == []
    assert unfinished_writes(home) == []
    print(f"overlap {min(a['end'], b['end']) - max(a['start'], b['start']):.1f}s of runs "
          f"{a['end'] - a['start']:.1f}s / {b['end'] - b['start']:.1f}s ({time.time() - t0:.0f}s with start-up)")
