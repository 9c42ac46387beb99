"""nginx's access logs never hold a raw challenge session id (a capability in the URL path).

Each config runs in a real nginx on loopback in front of a stand-in upstream; the test makes requests that
carry a session id and reads the access log. Skips when nginx (or, for the TLS front, openssl) is missing.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION_ID = "Cap4bility-9f8e7d6c5b4a3210Zz"
REQUESTS = [
    ("GET", f"/api/v1/challenge/sessions/{SESSION_ID}"),
    ("POST", f"/api/v1/challenge/sessions/{SESSION_ID}/phase-a"),
    ("POST", f"/api/v1/challenge/sessions/{SESSION_ID}/phase-a/answer"),
    ("POST", f"/api/v1/challenge/sessions%2F{SESSION_ID}/phase-b"),  # decoded by nginx, masked as well
    ("POST", f"/API/v1/challenge/sessions/{SESSION_ID}/phase-b"),
]
MASKED = [
    "/api/v1/challenge/sessions/*",
    "/api/v1/challenge/sessions/*/phase-a",
    "/api/v1/challenge/sessions/*/phase-a/answer",
    "/api/v1/challenge/sessions/*/phase-b",
    "/API/v1/challenge/sessions/*/phase-b",
]


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None or not Path("/etc/nginx/mime.types").exists():
        pytest.skip("nginx is not installed (Debian package: nginx)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream(BaseHTTPRequestHandler):
    """Answers every request with an empty JSON object (stands in for the backend and the shop)."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def run_nginx(
    nginx: str, conf: Path, prefix: Path, health_url: str, directives: str = ""
) -> subprocess.Popen[bytes]:
    args = ["-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")]
    proc = subprocess.Popen([nginx, *args, "-g", f"daemon off; {directives}"])
    for _ in range(80):
        try:
            if httpx.get(health_url, verify=False, timeout=1.0).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=10)
    pytest.fail(f"nginx did not start: {(prefix / 'error.log').read_text(errors='replace')}")


def send_and_read_log(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> list[str]:
    try:
        with httpx.Client(base_url=base_url, verify=False, timeout=5.0) as client:
            for method, path in REQUESTS:
                assert client.request(method, path, json={}).status_code == 200, path
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return log.read_text().splitlines()


def assert_masked(lines: list[str], error_log: Path) -> None:
    logged = [line for line in lines if "/challenge/sessions" in line.lower()]
    assert len(logged) == len(REQUESTS)
    assert all(SESSION_ID not in line for line in lines)
    for line, (method, _), masked in zip(logged, REQUESTS, MASKED, strict=True):
        assert f'"{method} {masked} HTTP/1.1" 200' in line
    assert SESSION_ID not in error_log.read_text()


def start_local(tmp_path: Path, upstream: int) -> tuple[subprocess.Popen[bytes], str]:
    """The local config (scripts/nginx.sh render) running in front of ``upstream``: nginx and its base URL."""
    nginx = nginx_binary()
    port = free_port()
    env = {
        "PATH": f"{Path(nginx).parent}:/usr/bin:/bin",
        "RUN_DIR": str(tmp_path),
        "SDK_DIST": str(tmp_path),
        "NGINX_PORT": str(port),
        "BACKEND_PORT": str(upstream),
        "DEMO_PORT": str(upstream),
    }
    rendered = subprocess.run(
        ["bash", str(ROOT / "scripts" / "nginx.sh"), "render"],
        env=env, cwd=ROOT, check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    conf = Path(rendered.stdout.strip())
    proc = run_nginx(nginx, conf, tmp_path / "nginx", f"http://127.0.0.1:{port}/health")
    return proc, f"http://127.0.0.1:{port}"


def start_production(
    tmp_path: Path, upstream: int, metrics: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """docker/nginx/prod.conf on loopback (a throwaway certificate, every upstream ``upstream``, the metrics
    server on ``metrics`` or a free port): nginx and its TLS base URL. Its logs are under ``tmp_path/logs``."""
    nginx = nginx_binary()
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "logs").mkdir()
    docker_nginx = ROOT / "docker" / "nginx"
    shutil.copy(docker_nginx / "security-headers.conf", tmp_path / "security-headers.conf")
    plain, tls = free_port(), free_port()
    # The container's paths, ports and compose hostnames, mapped onto this machine's loopback.
    conf = (
        (docker_nginx / "prod.conf")
        .read_text()
        .replace("user nginx;", "")
        .replace("/etc/nginx/certs/", f"{certs}/")
        .replace("/etc/nginx/snippets/", f"{tmp_path}/")
        .replace("/var/log/nginx/", f"{tmp_path}/logs/")
        .replace("listen 80 default_server;", f"listen 127.0.0.1:{plain} default_server;")
        .replace("listen 443 ssl http2 default_server;", f"listen 127.0.0.1:{tls} ssl default_server;")
        .replace("listen 9180;", f"listen 127.0.0.1:{metrics or free_port()};")
    )
    conf = re.sub(r"^\s*listen \[::\].*$", "", conf, flags=re.MULTILINE)
    conf = re.sub(r"server (backend|demo|sdk):\d+", f"server 127.0.0.1:{upstream}", conf)
    (tmp_path / "nginx.conf").write_text(conf)
    health = f"https://127.0.0.1:{tls}/health"
    proc = run_nginx(nginx, tmp_path / "nginx.conf", tmp_path, health, f"pid {tmp_path}/nginx.pid;")
    return proc, f"https://127.0.0.1:{tls}"


def test_the_local_config_masks_session_ids(tmp_path: Path, upstream: int) -> None:
    proc, base_url = start_local(tmp_path, upstream)
    lines = send_and_read_log(proc, base_url, tmp_path / "nginx-access.log")
    assert_masked(lines, tmp_path / "nginx-error.log")


def test_the_production_config_masks_session_ids(tmp_path: Path, upstream: int) -> None:
    proc, base_url = start_production(tmp_path, upstream)
    lines = send_and_read_log(proc, base_url, tmp_path / "logs" / "access.log")
    assert_masked(lines, tmp_path / "logs" / "error.log")
