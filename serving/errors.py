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

from fastapi import FastAPI

from tcurity.web import errors as contract
from tcurity.web.errors import ApiError, error_body

__all__ = ["ERROR_CODES", "ApiError", "error_body", "install_error_handlers"]

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


def install_error_handlers(app: FastAPI) -> None:
    """Maps every failure onto the error contract (:mod:`tcurity.web.errors`, never a bare 500 for bad input)."""
    contract.install_error_handlers(app, other_http_code="http_error")
