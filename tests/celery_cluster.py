"""A real Redis (Debian's redis-server) and Celery workers started with `dagster-celery worker start`, for the
Celery tests and benchmarks/scale.py. Everything listens on 127.0.0.1 and is stopped by process group."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ops_pipelines.defs.executors import BACKEND_ENV, BROKER_ENV, EXECUTOR_ENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_missing() -> str | None:
    """Why the Celery tests cannot run here, or None."""
    if not shutil.which("redis-server"):
        return "redis-server not installed (apt-get install -y redis-server)"
    try:
        import dagster_celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        return "the celery extra is not installed (pip install -e '.[celery]')"
    return None


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence; yields its URL (database 0)."""
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="ops_redis_"))
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(work), "--protected-mode", "yes"], stdout=open(work / "log", "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def isolated_env(work: Path, landing: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: a fresh embedded SQLite instance) with a data home of its own under `work`, whose landing
    zone is a link to `landing`: runs of the same input under different executors write side by side."""
    home = work / "home"
    home.mkdir(parents=True)
    (home / "landing").symlink_to(Path(landing).resolve())
    if env is None:
        dagster_home = work / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    env = {**env, "OPS_PIPELINES_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    for key in (EXECUTOR_ENV, "OPS_PIPELINES_ALERT_WEBHOOK_URL"):
        env.pop(key, None)
    return env


def drive(env: dict[str, str], days: list[str], out: Path, select: str | None, wait: bool = True) -> subprocess.Popen:
    """Run days in a driver process of their own (`python -m ops_pipelines.distributed`), report to `out`."""
    cmd = [sys.executable, "-m", "ops_pipelines.distributed", "--out", str(out), *(["--select", select] if select else []),
           *days]
    proc = subprocess.Popen(cmd, env=env)
    if wait:
        proc.wait()
    return proc


def celery_env(env: dict[str, str], redis_url: str) -> dict[str, str]:
    """`env` with the Celery executor switched on, pointing at `redis_url` (broker and result backend)."""
    return {**env, EXECUTOR_ENV: "celery", BROKER_ENV: redis_url, BACKEND_ENV: redis_url,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def write_worker_config(path: Path, env: dict[str, str]) -> Path:
    """The `-y` file of `dagster-celery worker start`: the executor's own config, as the job sees it in `env`."""
    import json

    from ops_pipelines.defs.executors import celery_config

    saved = {k: os.environ.get(k) for k in (BROKER_ENV, BACKEND_ENV)}
    os.environ.update({k: env[k] for k in saved if k in env})
    try:
        path.write_text(json.dumps({"execution": {"config": celery_config()}}, indent=1))  # JSON is YAML
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return path


class Workers:
    """N `dagster-celery worker start` processes (one pool process each) on the broker of `env`."""

    def __init__(self, env: dict[str, str], count: int, work: Path):
        self.env, self.count, self.work = env, count, work
        self.procs: list[subprocess.Popen] = []
        self.names = [f"ops{i + 1}" for i in range(count)]

    def start(self) -> None:
        config = write_worker_config(self.work / "celery.yaml", self.env)
        # Each worker opens the instance as it starts: two creating a fresh instance's tables at once crash one
        # ("table alembic_version already exists"), so the tables are created first, once.
        subprocess.run([sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().get_runs(limit=1)"],
                       env=self.env, check=True)
        bin_ = str(Path(sys.executable).parent / "dagster-celery")
        for name in self.names:
            log = open(self.work / f"worker_{name}.log", "ab")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen(
                [bin_, "worker", "start", "-A", "dagster_celery.app", "-y", str(config), "-n", name, "--",
                 "--concurrency=1", "--without-gossip", "--without-mingle"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        self.wait_ready()

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [n for n in self.names if b"ready." in (self.work / f"worker_{n}.log").read_bytes()]
            if len(ready) == self.count:
                return
            dead = [p.args for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a Celery worker exited: {self.log_tail()}")
            time.sleep(0.5)
        raise TimeoutError(f"Celery workers not ready after {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join((self.work / f"worker_{n}.log").read_text(errors="replace")[-chars:] for n in self.names)

    def pids(self) -> list[int]:
        """Every process of every worker (the `dagster-celery` parent, Celery's main and its pool process)."""
        return [pid for p in self.procs for pid in process_tree(p.pid)]

    def pool_pids(self) -> list[int]:
        """The pool processes that execute the steps (children of Celery's main process)."""
        return [pid for p in self.procs for pid in process_tree(p.pid)[2:]]

    def pool_pids_of(self, worker: str) -> list[int]:
        """The pool processes of one worker, by its Celery name (`ops1@host`)."""
        proc = self.procs[self.names.index(worker.split("@")[0])]
        return process_tree(proc.pid)[2:]

    def stop(self) -> None:
        for proc in self.procs:
            _stop(proc)


@contextlib.contextmanager
def celery_workers(env: dict[str, str], count: int, work: Path) -> Iterator[Workers]:
    workers = Workers(env, count, work)
    try:
        workers.start()
        yield workers
    finally:
        workers.stop()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, parents first (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        out.append(current)
        todo += sorted(children.get(current, []))
    return out


def peak_rss_mb(pid: int) -> float:
    """The largest resident set a process has had so far (VmHWM), in MB; 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _wait(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"redis-server did not accept connections on port {port}")


def _stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
