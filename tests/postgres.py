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


class PrivateServer:
    """A throwaway PostgreSQL server of our own, which a test may stop and start again (a fault-injection test
    must not restart CI's shared server)."""

    def __init__(self, bindir: Path, work: Path, port: int):
        self.bindir, self.work, self.port = bindir, work, port
        self.data = work / "data"
        self.params = {"host": "127.0.0.1", "port": str(port), "user": "postgres", "password": "", "db": "postgres"}

    def ctl(self, *args: str) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.work} -c fsync=off"
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                                     str(self.work / "log"), *args]), check=True, capture_output=True)

    def start(self) -> None:
        self.ctl("-w", "start")
        _wait(self.port)

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivateServer]:
    """Start a PostgreSQL server of our own on a free loopback port; raises FileNotFoundError without binaries."""
    pg_config = shutil.which("pg_config")
    if not pg_config:
        raise FileNotFoundError("PostgreSQL server binaries not found (pg_config not on PATH)")
    bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    if not (bindir / "initdb").exists():
        raise FileNotFoundError(f"no initdb in {bindir}")
    work = Path(tempfile.mkdtemp(prefix="ops_pg_"))
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    server = PrivateServer(bindir, work, _free_port())
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[dict[str, str]]:
    """Yield connection parameters (host, port, user, password, db) of a running server."""
    if os.environ.get("OPS_TEST_PG_PORT"):
        yield {k: os.environ[f"OPS_TEST_PG_{k.upper()}"] for k in ("host", "port", "user", "password", "db")}
        return
    with private_postgres() as server:
        yield server.params


def _wait(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL did not accept connections on port {port}")


@contextlib.contextmanager
def postgres_or_skip(private: bool = False) -> Iterator:
    """`postgres_server()` (or with `private`, a `PrivateServer` of our own), or a skip on a machine without the
    server binaries; under CI that fails instead."""
    import pytest

    with contextlib.ExitStack() as stack:
        try:  # only the server's start may skip: a FileNotFoundError of the test itself stays an error
            found = stack.enter_context(private_postgres() if private else postgres_server())
        except FileNotFoundError as exc:
            if os.environ.get("CI"):
                raise  # CI must test against a real server
            pytest.skip(f"no PostgreSQL here: {exc}")
        yield found


def connect(pg: dict, dbname: str | None = None):
    """A psycopg2 connection to the server `pg` names, on `dbname` (default: its own database)."""
    import psycopg2

    return psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                            dbname=dbname or pg["db"])


def fresh_database(pg: dict, prefix: str) -> str:
    """A new, empty database on the server `pg` names; its name."""
    import uuid

    db = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = connect(pg)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{db}"')
    conn.close()
    return db
