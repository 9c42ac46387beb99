"""Bodies shared by every resource: the error contract and the operations endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every failure outside siteverify: a documented code, a message, optional details."""

    error: ErrorDetail


def errors(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given ``(status, "code, code")`` pairs, all in the error contract."""
    return {status: {"model": ErrorResponse, "description": codes} for status, codes in pairs}


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """Whether the backend can serve challenges: the store answers and the AI server is ready."""

    ready: bool
    checks: dict[str, Any]
