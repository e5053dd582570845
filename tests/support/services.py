"""Start the local PostgreSQL and Redis the tests need when they are down.

CI machines run both; a stopped one is started with the same command the
machine image uses, so a test that needs them never silently skips.
"""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"service on {host}:{port} did not come up within {seconds}s")


def ensure_postgres(host: str = "127.0.0.1", port: int = 5432) -> None:
    """Make sure PostgreSQL listens on host:port, starting the local cluster if needed."""
    if port_open(host, port):
        return
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").exists() else []
    if not versions:
        raise RuntimeError("PostgreSQL is not running and no local cluster is installed")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True
    )
    _wait(host, port, 30)


def ensure_redis(host: str = "127.0.0.1", port: int = 6379) -> None:
    """Make sure Redis listens on host:port, starting a non-persistent server if needed."""
    if port_open(host, port):
        return
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no"],
        check=True,
    )
    _wait(host, port, 15)
