"""The whole system on free loopback ports: AI server, backend, demo shop and nginx, each a child process
stopped by its pid. The red-team harness runs it on the real champions; the browser tests on a small real
Phase A model and a Phase B double.

Every service runs as ``make up`` runs it (``python -m web.backend``, ``python -m web.demo``,
``scripts/nginx.sh run``), configured through the environment only; the demo shop is a site registered with the
backend's own CLI function, asking both phases. The AI server is a uvicorn app factory named by the caller (the
real app with an answer oracle, :mod:`redteam.oracle`, or the tests' double), both answering
``GET /oracle/answers/{problem_id}`` so that a client can play the person who recognises the pictures.
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
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    health_url: str = ""

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
    pepper: str
    metrics_token: str
    sitekey: str
    secret: str
    services: list[Service] = field(default_factory=list)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.tail()}" for s in self.services)

    def restart(self, name: str) -> None:
        """Stops the service called ``name`` by its pid and starts it again as it was started (the demo shop
        keeps its sales in memory: a restart puts every seat back on sale)."""
        old = next(s for s in self.services if s.name == name)
        old.stop()
        self.services.remove(old)
        _start(self, name, old.cmd, old.env, old.health_url)


def _start(stack: Stack, name: str, cmd: list[str], env: dict[str, str], health_url: str) -> None:
    log = stack.root / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Service(name, process, log, cmd, env, health_url)
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


def register_site(root: Path, pepper: str, signing_key: str, ai_token: str, name: str) -> tuple[str, str]:
    """Adds a site (both phases, on 127.0.0.1 and localhost) to the sites file; returns its sitekey and secret.
    The backend picks up a changed sites file within ``SITES_RELOAD_INTERVAL_S``."""
    settings = BackendSettings(
        tcurity_env="test",
        ai_server_token=ai_token,
        token_signing_key=signing_key,
        site_secret_pepper=pepper,
        sites_file=root / "sites.json",
    )
    made = sites_add(settings, name, ["127.0.0.1", "localhost"], SitePolicy(phase_b="always"))
    return made["sitekey"], made["secret"]


def start_stack(
    root: Path,
    registry_uri: str,
    ai_factory: str,
    ai_env: dict[str, str],
    backend_env: dict[str, str] | None = None,
) -> Stack:
    """Starts the four services; on any failure stops what started and raises with the logs.

    Args:
        root: a folder for the sites file, the logs and nginx's run files.
        registry_uri: the MLflow registry the AI server loads its champions from.
        ai_factory: the AI server's uvicorn app factory (``module:function``).
        ai_env: more environment for the AI server (e.g. ``PHASE_B_PROBLEM_IMAGE_ROOT``).
        backend_env: more environment for the backend (e.g. ``PASS_TOKEN_TTL_S``).
    """
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise RuntimeError("nginx is not installed")
    ports = {name: free_port() for name in ("ai", "backend", "demo", "nginx")}
    ai_token, signing_key, pepper, metrics_token = (secrets.token_urlsafe(32) for _ in range(4))
    sitekey, secret = register_site(root, pepper, signing_key, ai_token, "T-Tickets demo")
    stack = Stack(
        root=root,
        url=f"http://127.0.0.1:{ports['nginx']}",
        ai_url=f"http://127.0.0.1:{ports['ai']}",
        backend_url=f"http://127.0.0.1:{ports['backend']}",
        demo_url=f"http://127.0.0.1:{ports['demo']}",
        ai_token=ai_token,
        signing_key=signing_key,
        pepper=pepper,
        metrics_token=metrics_token,
        sitekey=sitekey,
        secret=secret,
    )
    env = _base_env()
    try:
        ai = env | {
            "TCURITY_ENV": "test",
            "AI_SERVER_TOKEN": ai_token,
            "MLFLOW_TRACKING_URI": registry_uri,
            "MODEL_POLL_INTERVAL_S": "0",
            **ai_env,
        }
        ai_cmd = [sys.executable, "-m", "uvicorn", "--factory", ai_factory]
        ai_cmd += ["--host", "127.0.0.1", "--port", str(ports["ai"]), "--log-level", "warning"]
        _start(stack, "ai-server", ai_cmd, ai, f"{stack.ai_url}/health")
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
            "PHASE_B_ISSUES_PER_IP": "100000",  # every simulated person comes from loopback
            "AI_TIMEOUT_S": "10",
            "METRICS_TOKEN": metrics_token,
            "SITES_RELOAD_INTERVAL_S": "0.5",
            **(backend_env or {}),
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


def start_real_stack(root: Path, backend_env: dict[str, str] | None = None) -> Stack:
    """The system on the project's registry (its ``@champion`` models) and curated bank, with the oracle."""
    from tcurity.config import tracking_uri

    ai_env = {"PHASE_B_PROBLEM_IMAGE_ROOT": str(PROJECT_ROOT / "data/bank")}
    return start_stack(root, tracking_uri(), "redteam.oracle:create_app", ai_env, backend_env)


def main() -> None:
    """``python -m redteam.stack``: the harness's stack, on the real champions, until Ctrl-C; prints its
    addresses and secrets as one JSON line (for developing an attacker by hand)."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tcurity-stack-") as folder:
        stack = start_real_stack(Path(folder))
        try:
            fields = ("url", "ai_url", "backend_url", "demo_url", "sitekey", "metrics_token")
            sys.stdout.write(json.dumps({name: getattr(stack, name) for name in fields}) + "\n")
            sys.stdout.flush()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
