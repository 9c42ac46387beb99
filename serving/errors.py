"""The AI server's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

Every code and when it is answered: :mod:`serving.codes` (the one list, also rendered into the OpenAPI
description; a trace that breaks the schema is answered 422 with its own code, :data:`tcurity.traces.TRACE_CODES`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tcurity.traces import TraceValidationError


class ApiError(Exception):
    """An error with a documented code, raised by handlers and dependencies."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _trace_error(errors: list[Any]) -> TraceValidationError | None:
    for err in errors:
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, TraceValidationError):
            return cause
    return None


def _jsonable(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors[:20]]


def install_error_handlers(app: FastAPI) -> None:
    """Maps every failure onto the error contract (never a bare 500 for bad input)."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> ORJSONResponse:
        return ORJSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        errors = list(exc.errors())
        trace_error = _trace_error(errors)
        if trace_error is not None:
            body = error_body(trace_error.code, trace_error.message)
        elif any(e.get("type") == "json_invalid" for e in errors):
            body = error_body("invalid_request", "the body is not valid JSON", _jsonable(errors))
        else:
            body = error_body("invalid_request", "the body does not match the schema", _jsonable(errors))
        return ORJSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return ORJSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)
