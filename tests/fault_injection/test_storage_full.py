"""Storage that fills up, or is read-only, in the middle of a day's run: one clear error naming the file, and no
partial file (every Parquet file there is complete, no temp file is left, files written before stay intact).

How the fault is made: the data home's `storage/` is a 1 MB tmpfs (or a read-only one) inside a private mount
namespace of the run's own process (`unshare --mount`, with `--user --map-root-user` when not root), so nothing
on the host changes and the mount goes away with the process. chmod cannot make it for root (root ignores file
modes; CI runs as root), and a loop-mounted image would change the host's mounts. Where neither CAP_SYS_ADMIN
nor unprivileged user namespaces exist, the test skips and says so.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.fault_injection.harness import DAY, SELECTION, small_world

pytestmark = pytest.mark.fault_injection

SCRIPT = """
import json, os, sys
from pathlib import Path
import dagster as dg
import pyarrow.parquet as pq
from ops_pipelines.daily_runs import resolve_selection
from ops_pipelines.definitions import defs
from ops_pipelines.runner import failure_reason

home, day, selection = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
before = {str(p): p.read_bytes() for p in (home / "storage").rglob("*") if p.is_file()}
with dg.DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("daily_job").execute_in_process(
        partition_key=day, asset_selection=[dg.AssetKey(k) for k in resolve_selection(selection)], instance=instance,
        raise_on_error=False)
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    reason = failure_reason(instance, result.run_id)
files = sorted(p for p in (home / "storage").rglob("*") if p.is_file())
complete = []
for p in files:
    try:
        pq.read_metadata(p)
        complete.append(True)
    except Exception:
        complete.append(False)
print(json.dumps({"success": result.success, "failed_steps": failed, "reason": reason,
                  "files": [str(p.relative_to(home)) for p in files], "complete": complete,
                  "unchanged": all(Path(p).read_bytes() == b for p, b in before.items())}))
"""


def can_mount() -> bool:
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    if os.geteuid() != 0:
        probe[1:1] = ["--user", "--map-root-user"]
    return shutil.which("unshare") is not None and subprocess.run(probe, capture_output=True).returncode == 0


def run_day(home, fault: str, size: str = "1m") -> dict:
    """Run the day's AIOps chain in a process whose storage/ has the fault ("none", "full" or "read_only");
    what it saw, as JSON."""
    env = {**os.environ, "OPS_PIPELINES_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}
    python = [sys.executable, "-c", SCRIPT, str(home), DAY, SELECTION]
    storage = home / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    if fault == "none":
        done = subprocess.run(python, env=env, capture_output=True, text=True, timeout=600)
    elif can_mount():
        options = f"size={size}" + (",ro" if fault == "read_only" else "")
        mount = f"mount -t tmpfs -o {options} tmpfs {storage}"
        if fault == "full" and any(storage.rglob("*")):  # keep what is there: copy it into the small filesystem
            mount = f"cp -a {storage} {home}/.before && {mount} && cp -a {home}/.before/. {storage}/ && rm -rf {home}/.before"
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        cmd = ["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", f'{mount} && exec "$@"', "sh", *python]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    else:
        pytest.skip("no private mount namespace here (unshare --mount needs CAP_SYS_ADMIN or unprivileged user "
                    "namespaces): cannot make a small or read-only filesystem without changing the host's mounts")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("fault", "words"), [
    ("full", ("No space left on device",)),
    ("read_only", ("Read-only file system",)),
])
def test_full_or_read_only_storage_gives_one_clear_error_and_no_partial_file(tmp_path, fault, words):
    home = tmp_path / "home"
    small_world(home / "landing", tmp_path)
    seen = run_day(home, fault)
    print(fault, seen["failed_steps"], seen["reason"], f"{len(seen['files'])} file(s) kept")
    assert not seen["success"]
    assert any(word in seen["reason"] for word in words), seen["reason"]
    if fault == "full":
        # The write that did not fit fails its step, naming the file; what needs it is skipped, not failed again.
        assert len(seen["failed_steps"]) == 1
        step = seen["failed_steps"][0]
        assert seen["reason"].startswith(f"{step}: OSError: ") and f"cannot write {home}/storage/" in seen["reason"]
    else:
        # Storage that takes no file at all fails the run once, before any step, naming the folder.
        assert seen["failed_steps"] == []
        assert seen["reason"].startswith("OSError: [Errno ") and f"cannot write to the asset storage {home}/storage" in seen["reason"]
    assert all(seen["complete"]), seen["files"]  # every file there is a whole Parquet file
    assert not any(os.path.basename(f).startswith(".") for f in seen["files"])  # no temp file left behind
    if fault == "read_only":
        assert seen["files"] == []


def test_a_day_that_no_longer_fits_leaves_the_files_of_an_earlier_run_intact(tmp_path):
    home = tmp_path / "home"
    small_world(home / "landing", tmp_path)
    first = run_day(home, "none")  # the day's files, on the ordinary disk
    assert first["success"] and all(first["complete"])
    kept = {f: (home / f).read_bytes() for f in first["files"]}
    # The same day again on a filesystem with room for what is there and little more (the re-run's temp files).
    used = sum(len(b) for b in kept.values())
    seen = run_day(home, "full", size=f"{(used + 600_000) // 1024}k")
    print("re-run on a full disk:", seen["failed_steps"], seen["reason"])
    assert not seen["success"] and len(seen["failed_steps"]) == 1 and seen["unchanged"]
    assert all(seen["complete"]) and not any(os.path.basename(f).startswith(".") for f in seen["files"])
