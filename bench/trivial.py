"""The HTTP stack's ceiling: the AI server's set-up (FastAPI, ORJSON responses, the same uvicorn flags)
serving one endpoint that reads the same body and answers a constant. The benchmarks compare each service's
CPU cost per request with this one's, measured in the same run.

    uvicorn bench.trivial:create_app --factory
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

TRIVIAL_PATH = "/v1/trivial"


def create_app() -> FastAPI:
    """An app with :data:`TRIVIAL_PATH` (POST: reads the body, answers ``{"ok": true}``) and ``/health``."""
    app = FastAPI(default_response_class=ORJSONResponse, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(TRIVIAL_PATH)
    async def trivial(request: Request) -> dict[str, bool]:
        await request.body()
        return {"ok": True}

    return app
