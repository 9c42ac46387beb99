"""The error contract of both services: every failure is ``{"error": {"code", "message", "details"}}``.

Each service lists its own codes (``serving.errors``, ``web.backend.app.core.errors``); the body, the exception
that carries a code, the mapping of schema failures (a trace's own code first) and the handlers are here.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tcurity.traces import TraceValidationError

# Statuses Starlette raises itself (routing, auth helpers), by the code each answers with.
HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


class JsonBody(JSONResponse):
    """A JSON response rendered by orjson (bodies built by hand, and every error)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An error with a documented code, raised by handlers, dependencies and services (``headers``: extra
    response headers, e.g. ``Retry-After``)."""

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


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every failure outside siteverify: a documented code, a message, optional details."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error contract's body."""
    return {"error": {"code": code, "message": message, "details": details}}


def trace_error(errors: list[Any]) -> TraceValidationError | None:
    """The trace check that failed, when a schema failure came from one (its code is the answer's)."""
    for err in errors:
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, TraceValidationError):
            return cause
    return None


def jsonable_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Where and what failed, for at most 20 errors: never the submitted value (it may hold an answer or a
    token)."""
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors[:20]]


def validation_body(errors: list[Any]) -> dict[str, Any]:
    """The error body for a schema failure: the trace's own code when a trace check failed."""
    cause = trace_error(errors)
    if cause is not None:
        return error_body(cause.code, cause.message)
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_body("invalid_request", "the body is not valid JSON", jsonable_errors(errors))
    return error_body("invalid_request", "the body does not match the schema", jsonable_errors(errors))


def install_error_handlers(app: FastAPI, other_http_code: str) -> None:
    """Maps coded errors, schema failures and Starlette's HTTP errors onto the contract (never a bare 500 for
    bad input); a status outside :data:`HTTP_CODES` answers with ``other_http_code``."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JsonBody:
        body = error_body(exc.code, exc.message, exc.details)
        return JsonBody(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonBody:
        return JsonBody(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonBody:
        code = HTTP_CODES.get(exc.status_code, other_http_code)
        return JsonBody(error_body(code, str(exc.detail)), status_code=exc.status_code)
