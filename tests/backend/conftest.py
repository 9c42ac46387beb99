"""The backend against real parts: a real AI server app, a real Redis server, real sites written by the CLI.

- **AI server**: ``serving.app.create_app`` on a small real Phase A champion, trained on real human strokes and
  registered in a temporary MLflow registry once per session (the helpers of ``tests/serving/conftest.py``),
  mounted as the backend's AI transport through ``httpx.ASGITransport``.
- **Phase B contract double**: no Phase B model is trained in tests, so ``/v1/phase-b/*`` goes to a minimal
  ASGI app that honours the AI server's contract. Its problems come from the real generator
  (:class:`tcurity.problems.ProblemGenerator`) on a tiny bank of real tiles, without the classifier check; its
  score passes a trace with one press per slot. Everything else goes to the real AI server.
- **Redis**: a ``redis-server`` on a free loopback port in a temp dir (tests that need it skip, saying why, when
  the binary is absent; Debian package ``redis-server``).
"""

from __future__ import annotations

import shutil
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from bench.redis_server import RedisMissingError, start_redis
from serving.app import create_app as create_ai_app
from tcurity import registry
from tcurity.data.adapter import to_perforation
from tcurity.geometry import random_perforation
from tcurity.images.bank import ImageBank
from tcurity.sampling import Path2
from tcurity.task_checks import check_follow
from tcurity.traces import PerforationTask, Trace, make_trace, with_browser_signals
from tests.images.tiny import write_tiny_bank
from tests.phase_b_double import phase_b_double
from tests.serving.conftest import TOKEN as AI_TOKEN
from tests.serving.conftest import promote, train_and_register
from tests.serving.conftest import settings as ai_settings
from web.backend.app.cli import sites_add
from web.backend.app.core.config import Settings
from web.backend.app.core.security import PassClaims
from web.backend.app.main import create_app
from web.backend.app.sites import SitePolicy
from web.backend.app.store.base import Store

SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789"
PEPPER = "test-pepper-0123456789abcdef0123456789abcdef"
ORIGIN = "https://tickets.example.com"
HOST = "tickets.example.com"


# --- the AI server ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def ai_app(
    tmp_path_factory: pytest.TempPathFactory, human_paths: list[Path2], empty_registry_db: Path
) -> FastAPI:
    """The real AI server app with a small real Phase A champion loaded (once per session)."""
    root = tmp_path_factory.mktemp("mlruns")
    shutil.copyfile(empty_registry_db, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with registry.using_registry(uri):
        promote(train_and_register(human_paths, seed=1))
        app = create_ai_app(ai_settings())
        app.state.store.refresh()  # what the lifespan does; ASGITransport does not run lifespans
    assert app.state.store.current.phase_a is not None
    return app


@pytest.fixture(scope="session")
def passing_paths(ai_app: FastAPI, human_paths: list[Path2]) -> list[Path2]:
    """Human strokes the small champion passes on several random perforations (deterministic flows)."""
    client = TestClient(ai_app)
    chosen = []
    for path in human_paths:
        ok = True
        for seed in range(3):
            task = random_perforation(np.random.default_rng(seed))
            trace = with_browser_signals(make_trace(to_perforation(path, task), task))
            body = {"trace": trace.model_dump(mode="json")}
            result = client.post(
                "/v1/phase-a/score", json=body, headers={"Authorization": f"Bearer {AI_TOKEN}"}
            )
            ok = ok and result.json()["passed"]
        if ok:
            chosen.append(path)
        if len(chosen) == 4:
            return chosen
    raise AssertionError("the small champion passes too few human strokes")


# --- the Phase B contract double ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tile_bank(tmp_path_factory: pytest.TempPathFactory) -> ImageBank:
    """A bank of the first real tiles of every class, written by the real curation writer."""
    return ImageBank.load(write_tiny_bank(tmp_path_factory.mktemp("bank"), tiles_per_class=6))


class AiTransport(httpx.AsyncBaseTransport):
    """The AI server as the backend reaches it: Phase B paths to the double, the rest to the real app.

    ``down`` makes every call fail as a refused connection would; ``unconfigured`` sends every call to a real
    AI server app that loaded no model (it answers its own 503 ``model_unavailable``/``bank_unavailable``);
    ``calls`` counts calls per path; ``via`` (a base URL) sends every call over real HTTP to that server instead,
    honouring the client's timeout (tests point it at a loopback server that fails in a real way).
    """

    def __init__(self, real: FastAPI, phase_b: APIRouter) -> None:
        double = FastAPI()
        double.include_router(phase_b)
        self.real = httpx.ASGITransport(app=real)
        self.phase_b = httpx.ASGITransport(app=double)
        self.empty = httpx.ASGITransport(app=create_ai_app(ai_settings()))
        self.down = False
        self.unconfigured = False
        self.via: str | None = None
        self.network = httpx.AsyncHTTPTransport()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path] += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.via is not None:
            target = httpx.URL(self.via)
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
            request.headers["host"] = target.netloc.decode()
            return await self.network.handle_async_request(request)
        if self.unconfigured:
            return await self.empty.handle_async_request(request)
        target = self.phase_b if request.url.path.startswith("/v1/phase-b/") else self.real
        return await target.handle_async_request(request)


# --- the backend ----------------------------------------------------------------------------------------------
class Clock:
    """Real time plus an offset the test moves forward (Unix seconds)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


def backend_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "tcurity_env": "test",
        "ai_server_url": "http://ai",
        "ai_server_token": AI_TOKEN,
        "token_signing_key": SIGNING_KEY,
        "site_secret_pepper": PEPPER,
        "sites_file": tmp_path / "sites.json",
        "sites_reload_interval_s": 0.0,
        "collected_dir": tmp_path / "collected",
        # Tests fill the Phase B pool when they need it (Backend.fill_pool: the filler's own step), so no
        # background task races them; tests of the filler turn it on.
        "problem_pool_filler": False,
        "problem_pool_depth": 4,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Site:
    sitekey: str
    secret: str


@dataclass
class Backend:
    """One backend app under test with its client, AI transport, clock and sites."""

    client: TestClient
    ai: AiTransport
    clock: Clock
    settings: Settings
    sites: dict[str, Site] = field(default_factory=dict)

    def create(self, site: str = "main", action: str = "checkout", origin: str = ORIGIN) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/challenge/sessions",
            json={"sitekey": self.sites[site].sitekey, "action": action},
            headers={"Origin": origin},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def from_ip(self, ip: str) -> TestClient:
        """A client of the same app (same event loop) whose requests come from peer ``ip``."""
        other = TestClient(self.client.app, raise_server_exceptions=False, client=(ip, 50000))
        other.portal = self.client.portal
        return other

    def post(self, path: str, json: Any = None, origin: str = ORIGIN) -> httpx.Response:
        return self.client.post(path, json=json, headers={"Origin": origin})

    def issue_a(self, session_id: str) -> PerforationTask:
        response = self.post(f"/api/v1/challenge/sessions/{session_id}/phase-a")
        assert response.status_code == 200, response.text
        return PerforationTask.model_validate(response.json()["task"])

    def answer_a(self, session_id: str, trace: Trace, wait: bool = True) -> httpx.Response:
        if wait:  # the person takes as long as the trace lasts
            self.clock.advance((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
        body = {"trace": trace.model_dump(mode="json")}
        return self.post(f"/api/v1/challenge/sessions/{session_id}/phase-a/answer", body)

    def siteverify(self, token: str, site: str = "main", **extra: Any) -> httpx.Response:
        return self.client.post(
            "/api/v1/siteverify", data={"secret": self.sites[site].secret, "response": token, **extra}
        )

    def fill_pool(self) -> int:
        """Runs the app's pool filler until the pool holds its depth (in the app's own event loop); returns
        how many problems it added."""
        filler = self.client.app.state.services.filler  # type: ignore[attr-defined]
        added = 0
        while made := self.client.portal.call(filler.fill_once):  # type: ignore[union-attr]
            added += made
        return added

    def pool_depth(self) -> int:
        """The live depth of the app's Phase B pool."""
        pool = self.client.app.state.services.pool  # type: ignore[attr-defined]
        depth: int = self.client.portal.call(pool.depth)  # type: ignore[union-attr]
        return depth

    def claims(self, token: str) -> PassClaims | None:
        """The claims the backend keeps for a token (read in the app's own event loop)."""
        tokens = self.client.app.state.services.tokens  # type: ignore[attr-defined]
        found: PassClaims | None = self.client.portal.call(tokens.claims, token)  # type: ignore[union-attr]
        return found


def human_answer(path: Path2, task: PerforationTask) -> Trace:
    """A real human stroke mapped onto the issued perforation, with the signals the SDK sends."""
    trace = with_browser_signals(make_trace(to_perforation(path, task), task))
    assert check_follow(task, trace.arrays()).passed
    return trace


@pytest.fixture
def make_backend(tmp_path: Path, ai_app: FastAPI, tile_bank: ImageBank) -> Iterator[Any]:
    """Builds backends: ``make_backend(sites={"main": SitePolicy(...)}, store=..., **settings)``.

    ``peer`` is the client address the backend sees (``TestClient``'s default, ``testclient``, is no IP).
    """
    clients: list[TestClient] = []

    def build(
        sites: dict[str, SitePolicy] | None = None,
        store: Store | None = None,
        folder: Path | None = None,
        peer: str = "testclient",
        **overrides: Any,
    ) -> Backend:
        settings = backend_settings(folder or tmp_path, **overrides)
        made = {
            name: Site(**sites_add(settings, name, [HOST, "other.example.com"], policy))
            for name, policy in (sites or {"main": SitePolicy(phase_b="never")}).items()
        }
        transport = AiTransport(ai_app, phase_b_double(tile_bank))
        app = create_app(settings, ai_transport=transport, store=store)
        clock = Clock()
        app.state.services.flow.clock = clock
        app.state.services.verifier.clock = clock
        client = TestClient(app, raise_server_exceptions=False, client=(peer, 50000))
        client.__enter__()
        clients.append(client)
        return Backend(client, transport, clock, settings, made)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


# --- Redis ----------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` on a free loopback port, in a temp dir, without persistence."""
    try:
        process, url = start_redis(tmp_path_factory.mktemp("redis"))
    except RedisMissingError as missing:
        pytest.skip(str(missing))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    """The session's Redis, emptied for one test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url
