"""Request and response bodies of the AI server (the OpenAPI contract the backend codes against)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tcurity.traces import Trace


class ScoreRequest(BaseModel):
    """A trace to score."""

    model_config = ConfigDict(extra="forbid")
    trace: Trace


class ModelRef(BaseModel):
    name: str
    version: str


class IntegrityVerdict(BaseModel):
    """The input-integrity layer's verdict (docs/integrity.md); it never changes ``passed``."""

    name: str
    version: str
    reasons: list[str] = Field(description="injected_input, automation_env (empty when nothing was found)")
    tells: list[str] = Field(description="the individual tells found (each weak alone)")
    evaluated: list[str] = Field(description="the checks the trace's evidence allowed")


class ScoreResponse(BaseModel):
    """The decision for one trace."""

    score: float = Field(description="human-likeness (higher is more human); compare with threshold")
    passed: bool
    threshold: float
    reasons: list[str] = Field(description="why it did not pass (empty on a pass)")
    checks: dict[str, Any]
    model: ModelRef
    integrity: IntegrityVerdict


class ProblemsRequest(BaseModel):
    """How many Phase B problems to make."""

    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=64)] = 1


class Problem(BaseModel):
    """One problem: the client view (safe to forward) and the answer (backend only)."""

    client: dict[str, Any]
    answer: dict[str, Any]


class ProblemsResponse(BaseModel):
    problems: list[Problem]
    model: ModelRef


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "unauthorized"},
    413: {"model": ErrorResponse, "description": "payload_too_large"},
    422: {"model": ErrorResponse, "description": "invalid_request, wrong_task, or a trace code"},
    503: {"model": ErrorResponse, "description": "model_unavailable / bank_unavailable"},
}
