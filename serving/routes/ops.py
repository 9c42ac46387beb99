"""Operations: liveness, readiness, versions, metrics and an explicit reload."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serving.auth import require_token
from serving.deps import Metrics, Models, Store
from tcurity.config import params
from tcurity.integrity import NAME as INTEGRITY_NAME
from tcurity.web.errors import JsonBody

router = APIRouter(tags=["ops"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "a champion is missing"}})
def ready(models: Models) -> JsonBody:
    """Readiness: every champion and the problem generator are loaded (503 names what is missing)."""
    missing = models.missing()
    body = {"ready": not missing, "missing": missing, "errors": models.errors}
    return JsonBody(body, status_code=503 if missing else 200)


@router.get("/version", dependencies=[Depends(require_token)])
def version(models: Models, store: Store) -> dict[str, Any]:
    """The loaded models (name, version, alias), the integrity rules' version and the image model's device."""
    roles = {"phase_a": models.phase_a, "phase_b": models.phase_b, "effnet": models.effnet}
    return {
        "models": {role: m.describe() if m else None for role, m in roles.items()},
        "integrity": {"name": INTEGRITY_NAME, "version": params().integrity.version},
        "device": store.device(),
        "reloads": store.reloads,
    }


@router.get("/metrics", dependencies=[Depends(require_token)], response_class=Response)
def metrics(telemetry: Metrics, models: Models) -> Response:
    """Prometheus metrics: requests and latency per endpoint, decisions, model versions."""
    roles = {"phase_a": models.phase_a, "phase_b": models.phase_b, "effnet": models.effnet}
    versions = {r: (m.name, m.version) for r, m in roles.items() if m is not None}
    telemetry.set_versions(versions | {"integrity": (INTEGRITY_NAME, params().integrity.version)})
    return Response(telemetry.render(), media_type="text/plain; version=0.0.4")


@router.post("/v1/admin/reload", dependencies=[Depends(require_token)])
async def reload(store: Store, telemetry: Metrics) -> dict[str, Any]:
    """Reload now: load every champion whose alias moved, swap atomically, say what changed."""
    changed = await asyncio.to_thread(store.refresh)
    if changed:
        telemetry.reloads.inc()
    return {"changed": changed, "missing": store.current.missing()}
