"""The backend's FastAPI application (port 8000, behind nginx at ``/api/``).

``create_app`` builds everything from one :class:`Settings`; tests inject the AI server's transport (an ASGI
app mounted through ``httpx.ASGITransport``) and the store. Every error follows
:mod:`web.backend.app.core.errors`; siteverify answers in its own compatible shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from tcurity.web.body_limit import BodyLimit
from web.backend.app.api.deps import Services
from web.backend.app.api.routes import challenge, ops, report, siteverify
from web.backend.app.core.codes import ERROR_CODES
from web.backend.app.core.config import Settings, get_settings
from web.backend.app.core.cors import DynamicCors
from web.backend.app.core.errors import install_error_handlers
from web.backend.app.core.logging import setup_logging
from web.backend.app.core.telemetry import RequestContext, Telemetry
from web.backend.app.services.ai_client import AiClient
from web.backend.app.services.breaker import STATE_VALUES, CircuitBreaker
from web.backend.app.services.challenge import ChallengeFlow
from web.backend.app.services.collect import Collector
from web.backend.app.services.problem_pool import PoolFiller, ProblemPool
from web.backend.app.services.ratelimit import RateLimiter
from web.backend.app.services.replay import ReplayGuard
from web.backend.app.services.session import SessionRepo
from web.backend.app.services.tokens import PassTokens
from web.backend.app.services.verify import Verifier
from web.backend.app.sites import SiteRegistry
from web.backend.app.store import Store, make_collect_store, make_store

FILLER_STOP_S = 5.0  # how long shutdown waits for the pool filler to stop
logger = logging.getLogger(__name__)

DESCRIPTION = (
    "T-curity backend: challenge sessions for the browser SDK, siteverify and reports for the sites' servers."
    "\n\nA session moves `created → phase_a → phase_b → passed` (or `blocked`); a pass yields a single-use "
    "token valid for at most 120 s that the site's server verifies with `POST /api/v1/siteverify`."
    '\n\nError codes (`{"error": {"code", "message", "details"}}`):\n'
    + "\n".join(f"- `{code}`: {text}" for code, text in ERROR_CODES.items())
)
FORM_PATHS = ("/api/v1/siteverify", "/api/v1/report")


def build_services(
    settings: Settings, ai_transport: httpx.AsyncBaseTransport | None = None, store: Store | None = None
) -> Services:
    """Wires the services of one app."""
    telemetry = Telemetry()
    store = store or make_store(settings.redis_url)
    sites = SiteRegistry(
        settings.sites_file,
        settings.site_secret_pepper.get_secret_value(),
        development=settings.development,
        reload_interval_s=settings.sites_reload_interval_s,
    )
    breaker = CircuitBreaker(
        settings.ai_breaker_failures,
        settings.ai_breaker_open_s,
        on_change=lambda state: telemetry.ai_circuit.set(STATE_VALUES[state]),
    )
    ai = AiClient(
        settings.ai_server_url,
        settings.ai_server_token.get_secret_value(),
        settings.ai_timeout_s,
        telemetry,
        transport=ai_transport,
        breaker=breaker,
    )
    limiter = RateLimiter(store, telemetry, settings.rate_limit_window_s)
    collector = Collector(make_collect_store(settings.collect_redis_url, store), telemetry)
    replays = ReplayGuard(store, settings.replay_window_s)
    tokens = PassTokens(store, settings.token_signing_key.get_secret_value())
    pool = ProblemPool(store, telemetry, settings.problem_pool_ttl_s, settings.problem_pool_retry_after_s)
    filler = PoolFiller(
        pool,
        ai,
        settings.problem_pool_depth,
        settings.problem_pool_batch,
        settings.problem_pool_timeout_s,
    )
    flow = ChallengeFlow(
        settings, sites, SessionRepo(store), ai, limiter, collector, telemetry, replays, tokens, pool
    )
    verifier = Verifier(settings, sites, store, limiter, telemetry, tokens)
    return Services(
        settings, sites, store, ai, flow, verifier, collector, limiter, telemetry, tokens, pool, filler
    )


def create_app(
    settings: Settings | None = None,
    *,
    ai_transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
) -> FastAPI:
    """Builds the app; ``settings`` default to the environment's, the store to ``REDIS_URL``'s or memory."""
    settings = settings or get_settings()
    services = build_services(settings, ai_transport, store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.metrics_token is None and not settings.development:
            logger.warning("METRICS_TOKEN is unset: keep /api/metrics off the public proxy")
        filling = asyncio.create_task(services.filler.run()) if settings.problem_pool_filler else None
        yield
        if filling is not None:
            filling.cancel()
            # Bounded: a batch call caught mid-flight must not hold the shutdown (the task is abandoned).
            stopped, _pending = await asyncio.wait({filling}, timeout=FILLER_STOP_S)
            if not stopped:
                logger.warning(
                    "the pool filler did not stop within %.0f s; shutting down anyway", FILLER_STOP_S
                )
        await services.ai.close()
        await services.store.close()
        if services.collector.store is not services.store:
            await services.collector.store.close()

    app = FastAPI(
        title="T-curity backend",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.serves_api_docs else None,
        redoc_url=None,
        openapi_url="/api/openapi.json" if settings.serves_api_docs else None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(siteverify.router)  # first: the busiest route matches without trying the others
    app.include_router(challenge.router)
    app.include_router(report.router)
    app.include_router(ops.router)
    # Outermost last: the request context wraps everything, CORS answers preflights before the body limit.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, form_paths=FORM_PATHS)
    app.add_middleware(
        DynamicCors,
        prefix="/api/v1/challenge",
        hostnames=services.sites.allowed_hostnames,
        http_origins=settings.http_origins,
    )
    app.add_middleware(RequestContext, telemetry=services.telemetry)
    return app


def serve_app() -> FastAPI:
    """The uvicorn factory (``web.backend.app.main:serve_app``): JSON logging, settings from the environment."""
    settings = get_settings()
    setup_logging(settings.log_level)
    return create_app(settings)
