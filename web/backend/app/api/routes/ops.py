"""Operations: liveness, readiness (store and AI server) and Prometheus metrics."""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from web.backend.app.api.deps import Svc
from web.backend.app.core.errors import ApiError, JsonBody
from web.backend.app.schemas.common import Health, Readiness, errors
from web.backend.app.store.base import StoreUnavailableError

router = APIRouter(prefix="/api", tags=["ops"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/ready", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}}
)
async def ready(services: Svc) -> JsonBody:
    """Readiness: the store answers and the AI server reports ready (503 says which is not)."""
    store_ok = await services.store.ping()
    ai = await services.ai.ready()
    checks = {
        "store": {"ready": store_ok},
        "ai_server": ai,
        "sites": {"count": len(services.sites.all_sites())},
    }
    ok = store_ok and bool(ai.get("ready"))
    return JsonBody({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses=errors((401, "unauthorized")))
async def metrics(services: Svc, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Prometheus metrics: requests, latency, sessions, passes, blocks by reason, AI calls, siteverify results,
    the Phase B pool's depth and filler."""
    token = services.settings.metrics_token
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest((authorization or "").encode(), expected):
            raise ApiError(401, "unauthorized", "a valid metrics token is required")
    with contextlib.suppress(StoreUnavailableError):
        await services.pool.depth()  # the shared depth, read now (the gauge keeps its last value otherwise)
    return Response(services.telemetry.render(), media_type="text/plain; version=0.0.4")
