"""Request and response bodies of the AI server (the OpenAPI contract the backend codes against).

The models themselves are :mod:`tcurity.web.ai_api`, which the backend's client parses answers with too; this
module names them for the routes and adds the routes' error responses.
"""

from __future__ import annotations

from typing import Any

from tcurity.web.ai_api import (
    IntegrityVerdict,
    ModelRef,
    Problem,
    ProblemAnswerView,
    ProblemsRequest,
    ProblemsResponse,
    ProblemView,
    ScoreRequest,
    ScoreResponse,
)
from tcurity.web.errors import ErrorDetail, ErrorResponse

__all__ = [
    "ERROR_RESPONSES",
    "ErrorDetail",
    "ErrorResponse",
    "IntegrityVerdict",
    "ModelRef",
    "Problem",
    "ProblemAnswerView",
    "ProblemView",
    "ProblemsRequest",
    "ProblemsResponse",
    "ScoreRequest",
    "ScoreResponse",
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "unauthorized"},
    413: {"model": ErrorResponse, "description": "payload_too_large"},
    422: {"model": ErrorResponse, "description": "invalid_request, wrong_task, or a trace code"},
    503: {"model": ErrorResponse, "description": "model_unavailable / bank_unavailable"},
}
