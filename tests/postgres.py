"""A real PostgreSQL server for tests: the one CI started (OPS_TEST_PG_* env), or our own."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[dict[str, str]]:
    """Yield connection parameters (host, port, user, password, db) of a running server."""
    if os.environ.get("OPS_TEST_PG_PORT"):
        yield {k: os.environ[f"OPS_TEST_PG_{k.upper()}"] for k in ("host", "port", "user", "password", "db")}
        return
    pg_config = shutil.which("pg_config")
    if not pg_config:
        raise FileNotFoundError("PostgreSQL server binaries not found (pg_config not on PATH)")
    bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    if not (bindir / "initdb").exists():
        raise FileNotFoundError(f"no initdb in {bindir}")
    work = Path(tempfile.mkdtemp(prefix="ops_pg_"))
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    data, port = work / "data", _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -k {work} -c fsync=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(work / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        _wait(port)
        yield {"host": "127.0.0.1", "port": str(port), "user": "postgres", "password": "", "db": "postgres"}
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _wait(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL did not accept connections on port {port}")


@contextlib.contextmanager
def postgres_or_skip() -> Iterator[dict[str, str]]:
    """`postgres_server()`, or a skip on a machine without the server binaries; under CI that fails instead."""
    import pytest

    try:
        with postgres_server() as params:
            yield params
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # CI must test against a real server
        pytest.skip(f"no PostgreSQL here: {exc}")
