"""``/api/ready`` (and ``/api/metrics``) never go through the public proxy (review 4 and its "Low" item).

Each nginx config runs for real on loopback in front of an upstream that records every path it is asked for:
the readiness probe in any spelling nginx normalises to it answers 404 at nginx, and the upstream never sees it,
while the API beside it still goes through. The production config's Prometheus door (:9180) passes only
``/api/metrics``. Skips when nginx (or, for the TLS front, openssl) is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.packaging.test_nginx_logs import free_port, start_local, start_production

HIDDEN = [
    "/api/ready",
    "/api/ready/",
    "/api/ready?verbose=1",
    "/api//ready",
    "/api/%72eady",
    "/api/metrics",
]


class Recording(BaseHTTPRequestHandler):
    """Answers ``{}`` to anything and notes the path (stands in for the backend and the shop)."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recording() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (Recording,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), seen
    server.shutdown()
    server.server_close()


def hidden_and_open(base_url: str) -> tuple[list[int], int]:
    """The status of each hidden path, and of an API path beside them."""
    with httpx.Client(base_url=base_url, verify=False, timeout=5.0) as client:
        hidden = [client.get(path).status_code for path in HIDDEN]
        return hidden, client.get("/api/health").status_code


def test_the_local_config_keeps_readiness_off_the_proxy(
    tmp_path: Path, recording: tuple[int, list[str]]
) -> None:
    port, seen = recording
    proc, base_url = start_local(tmp_path, port)
    try:
        hidden, beside = hidden_and_open(base_url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert hidden == [404] * len(HIDDEN)
    assert beside == 200
    assert seen == ["/api/health"]


def test_the_production_config_keeps_readiness_off_the_proxy(
    tmp_path: Path, recording: tuple[int, list[str]]
) -> None:
    port, seen = recording
    metrics = free_port()
    proc, base_url = start_production(tmp_path, port, metrics)
    try:
        hidden, beside = hidden_and_open(base_url)
        with httpx.Client(base_url=f"http://127.0.0.1:{metrics}", timeout=5.0) as door:
            scraped = door.get("/api/metrics", headers={"Authorization": "Bearer t"}).status_code
            elsewhere = [door.get(path).status_code for path in ("/api/ready", "/api/v1/siteverify", "/")]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert hidden == [404] * len(HIDDEN)
    assert beside == 200
    assert (scraped, elsewhere) == (200, [404, 404, 404])
    assert seen == ["/api/health", "/api/metrics"]
