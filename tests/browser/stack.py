"""The whole system on free loopback ports, for the browser tests: AI server (real Phase A champion, Phase B
double), backend, demo shop and nginx, each a child process stopped by its pid.

Every service runs as ``make up`` runs it (``python -m web.backend``, ``python -m web.demo``,
``scripts/nginx.sh run``), configured through the environment only; the demo shop is a site registered with the
backend's own CLI function, asking both phases.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tcurity.config import PROJECT_ROOT
from web.backend.app.cli import sites_add
from web.backend.app.core.config import Settings as BackendSettings
from web.backend.app.sites import SitePolicy

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL after a grace period."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """The running system and what the tests need to talk to it."""

    root: Path
    url: str
    ai_url: str
    backend_url: str
    demo_url: str
    ai_token: str
    signing_key: str
    sitekey: str
    secret: str
    services: list[Service] = field(default_factory=list)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.tail()}" for s in self.services)


def _start(stack: Stack, name: str, cmd: list[str], env: dict[str, str], health_url: str) -> None:
    log = stack.root / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Service(name, process, log)
    stack.services.append(service)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{service.tail()}")
        try:
            if httpx.get(health_url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {health_url}:\n{service.tail()}")


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


def register_demo_site(root: Path, pepper: str, signing_key: str, ai_token: str) -> tuple[str, str]:
    """Writes the sites file with the demo shop (both phases); returns its sitekey and secret."""
    settings = BackendSettings(
        tcurity_env="test",
        ai_server_token=ai_token,  # type: ignore[arg-type]
        token_signing_key=signing_key,  # type: ignore[arg-type]
        site_secret_pepper=pepper,  # type: ignore[arg-type]
        sites_file=root / "sites.json",
    )
    made = sites_add(
        settings, "T-Tickets demo (tests)", ["127.0.0.1", "localhost"], SitePolicy(phase_b="always")
    )
    return made["sitekey"], made["secret"]


def start_stack(root: Path, registry_uri: str, bank_dir: Path) -> Stack:
    """Starts the four services; on any failure stops what started and raises with the logs."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise RuntimeError("nginx is not installed")
    ports = {name: free_port() for name in ("ai", "backend", "demo", "nginx")}
    ai_token, signing_key, pepper = (secrets.token_urlsafe(32) for _ in range(3))
    sitekey, secret = register_demo_site(root, pepper, signing_key, ai_token)
    stack = Stack(
        root=root,
        url=f"http://127.0.0.1:{ports['nginx']}",
        ai_url=f"http://127.0.0.1:{ports['ai']}",
        backend_url=f"http://127.0.0.1:{ports['backend']}",
        demo_url=f"http://127.0.0.1:{ports['demo']}",
        ai_token=ai_token,
        signing_key=signing_key,
        sitekey=sitekey,
        secret=secret,
    )
    env = _base_env()
    try:
        ai_env = env | {
            "TCURITY_ENV": "test",
            "AI_SERVER_TOKEN": ai_token,
            "MLFLOW_TRACKING_URI": registry_uri,
            "MODEL_POLL_INTERVAL_S": "0",
            "PHASE_B_PROBLEM_IMAGE_ROOT": str(root / "no-bank"),
            "TEST_BANK_DIR": str(bank_dir),
        }
        ai_cmd = [sys.executable, "-m", "uvicorn", "--factory", "tests.browser.ai_double:create_app"]
        ai_cmd += ["--host", "127.0.0.1", "--port", str(ports["ai"]), "--log-level", "warning"]
        _start(stack, "ai-server", ai_cmd, ai_env, f"{stack.ai_url}/health")
        backend_env = env | {
            "TCURITY_ENV": "test",
            "AI_SERVER_URL": stack.ai_url,
            "AI_SERVER_TOKEN": ai_token,
            "TOKEN_SIGNING_KEY": signing_key,
            "SITE_SECRET_PEPPER": pepper,
            "SITES_FILE": str(root / "sites.json"),
            "BACKEND_PORT": str(ports["backend"]),
            "TRUST_FORWARDED_FOR": "true",
            "RATE_LIMIT_PER_IP": "100000",
            "AI_TIMEOUT_S": "10",
        }
        _start(
            stack,
            "backend",
            [sys.executable, "-m", "web.backend"],
            backend_env,
            f"{stack.backend_url}/api/health",
        )
        demo_env = env | {
            "TCURITY_ENV": "test",
            "DEMO_SITEKEY": sitekey,
            "DEMO_SITE_SECRET": secret,
            "BACKEND_URL": stack.backend_url,
            "DEMO_PORT": str(ports["demo"]),
            "DEMO_QUEUE_WAIT_S": "0.5",
        }
        _start(stack, "demo", [sys.executable, "-m", "web.demo"], demo_env, f"{stack.demo_url}/health")
        nginx_env = env | {
            "RUN_DIR": str(root / "nginx-run"),
            "NGINX_PORT": str(ports["nginx"]),
            "BACKEND_PORT": str(ports["backend"]),
            "DEMO_PORT": str(ports["demo"]),
        }
        _start(stack, "nginx", ["bash", "scripts/nginx.sh", "run"], nginx_env, f"{stack.url}/health")
    except BaseException:
        stack.stop()
        raise
    return stack
