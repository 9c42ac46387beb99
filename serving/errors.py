"""The AI server's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

Codes (also listed in the OpenAPI description):

| status | code | when |
|---|---|---|
| 401 | ``unauthorized`` | missing or wrong service token |
| 404 | ``not_found`` | unknown path |
| 405 | ``method_not_allowed`` | wrong method |
| 413 | ``payload_too_large`` | body over ``MAX_BODY_BYTES`` |
| 415 | ``unsupported_media_type`` | body is not JSON |
| 422 | ``invalid_request`` | the body does not match the schema |
| 422 | a trace code (``too_few_points``, ``time_not_monotonic``, ``bad_event_sequence``, …) | the trace breaks the schema |
| 422 | ``wrong_task`` | a Phase A trace for a grid task or the reverse |
| 503 | ``model_unavailable`` | the champion needed for the call is not loaded |
| 503 | ``bank_unavailable`` | the problem bank is missing or empty |
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tcurity.traces import TraceValidationError

ERROR_CODES: dict[str, str] = {
    "unauthorized": "missing or wrong service token",
    "not_found": "unknown path",
    "method_not_allowed": "wrong method",
    "payload_too_large": "request body over the size limit",
    "unsupported_media_type": "request body is not JSON",
    "invalid_request": "the body does not match the schema",
    "wrong_task": "the trace answers another phase's task",
    "model_unavailable": "the model this call needs is not loaded",
    "bank_unavailable": "the Phase B problem bank is missing or empty",
}


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
