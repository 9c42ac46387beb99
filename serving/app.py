"""The AI server's FastAPI application.

Models are loaded in the lifespan (never at import), refreshed from the registry every
``MODEL_POLL_INTERVAL_S`` seconds and on ``POST /v1/admin/reload``. Every error follows :mod:`serving.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from serving.codes import ERROR_CODES
from serving.errors import install_error_handlers
from serving.models import ModelStore
from serving.routes import ops, phase_a, phase_b
from serving.score_requests import document_raw_bodies
from serving.settings import Settings, get_settings
from serving.telemetry import Telemetry
from tcurity.web.body_limit import BodyLimit
from tcurity.web.errors import JsonBody
from tcurity.web.request_metrics import MeasuredRequests

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "T-curity AI server. Only the backend calls it (Bearer service token).\n\nError codes:\n"
    + "\n".join(f"- `{code}`: {text}" for code, text in ERROR_CODES.items())
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the app; ``settings`` default to the environment's."""
    settings = settings or get_settings()
    telemetry = Telemetry()
    store = ModelStore(settings, on_refusal=telemetry.count_refusal)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _limit_torch_threads(settings.torch_threads)
        await asyncio.to_thread(store.refresh)
        missing = store.current.missing()
        if missing:
            logger.warning("not ready: no champion for %s", ", ".join(missing))
        poller = None
        if settings.model_poll_interval_s > 0:
            poller = asyncio.create_task(store.poll(settings.model_poll_interval_s))
        yield
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    app = FastAPI(
        title="T-curity AI server",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JsonBody,
        docs_url="/docs" if settings.serves_api_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serves_api_docs else None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.telemetry = telemetry
    phase_a.install(app)  # first: its lane is the innermost middleware, its route tried before the routers
    app.add_middleware(MeasuredRequests, metrics=telemetry.http)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(phase_b.router)
    document_raw_bodies(app)
    return app


def _limit_torch_threads(n: int) -> None:
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(n)
