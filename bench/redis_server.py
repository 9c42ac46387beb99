"""A throw-away ``redis-server`` on a free loopback port: the benchmarks' shared store and the backend tests' own.

One launcher for both, so the flags that make it disposable (loopback only, its own folder, no snapshot, no
append-only file) are written once.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from bench.serving import free_port


class RedisMissingError(RuntimeError):
    """``redis-server`` is not on ``PATH`` (Debian package ``redis-server``)."""


def redis_command(binary: str, port: int, folder: Path) -> list[str]:
    """The command line of a disposable server: loopback only, working in ``folder``, persisting nothing."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


def wait_redis(url: str, tries: int = 100, pause_s: float = 0.05) -> None:
    """Returns once the server at ``url`` answers ``PING``; raises ``RuntimeError`` when it never does."""
    client = redis.Redis.from_url(url)
    try:
        for _ in range(tries):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(pause_s)
        raise RuntimeError("redis-server did not start")
    finally:
        client.close()


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts a disposable server in ``folder`` (in its own session, so a Ctrl-C reaches only the caller) and
    returns it with its URL once it answers. Raises :class:`RedisMissingError` when ``redis-server`` is absent."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisMissingError("redis-server is not installed (Debian package: redis-server)")
    port = free_port()
    process = subprocess.Popen(
        redis_command(binary, port, folder),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_redis(url)
    except RuntimeError:
        process.terminate()
        process.wait(timeout=10)
        raise
    return process, url
