"""The backend's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

siteverify is the exception: it always answers in its own reCAPTCHA-compatible shape (``success`` and
``error-codes``), see :mod:`web.backend.app.schemas.siteverify`.

Every code, its status and when it is answered: :mod:`web.backend.app.core.codes` (the one list; a trace that
breaks the schema is answered 422 with its own code, :data:`tcurity.traces.TRACE_CODES`).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tcurity.traces import TraceValidationError
from web.backend.app.store.base import StoreUnavailableError

logger = logging.getLogger(__name__)


class JsonBody(JSONResponse):
    """A JSON response rendered by orjson (handlers that build their body by hand, and every error)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An error with a documented code, raised by handlers, dependencies and services."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _trace_error(errors: list[Any]) -> TraceValidationError | None:
    for err in errors:
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, TraceValidationError):
            return cause
    return None


def _jsonable(errors: list[Any]) -> list[dict[str, Any]]:
    # Only where and what: never the submitted value (it may hold an answer or a token).
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors[:20]]


def validation_body(errors: list[Any]) -> dict[str, Any]:
    """The error body for a schema failure: the trace's own code when a trace check failed."""
    trace_error = _trace_error(errors)
    if trace_error is not None:
        return error_body(trace_error.code, trace_error.message)
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_body("invalid_request", "the body is not valid JSON", _jsonable(errors))
    return error_body("invalid_request", "the body does not match the schema", _jsonable(errors))


def install_error_handlers(app: FastAPI) -> None:
    """Maps every failure onto the error contract (never a bare 500 for bad input)."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JsonBody:
        body = error_body(exc.code, exc.message, exc.details)
        return JsonBody(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonBody:
        return JsonBody(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonBody:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "invalid_request"
        )
        return JsonBody(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(StoreUnavailableError)
    async def _store(_: Request, exc: StoreUnavailableError) -> JsonBody:
        # A store call no service mapped itself (a rate-limit hit under overload, say): still documented.
        logger.warning("store unavailable: %s", exc)
        body = error_body("store_unavailable", "the session store is unreachable; retry later")
        return JsonBody(body, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JsonBody:
        logger.exception("unhandled error", exc_info=exc)
        return JsonBody(error_body("internal_error", "an unexpected server error"), status_code=500)
