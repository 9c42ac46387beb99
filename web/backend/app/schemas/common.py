"""Bodies shared by every resource: the error contract and the operations endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tcurity.web.errors import ErrorDetail, ErrorResponse

__all__ = ["ErrorDetail", "ErrorResponse", "Health", "Readiness", "errors"]


def errors(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given ``(status, "code, code")`` pairs, all in the error contract."""
    return {status: {"model": ErrorResponse, "description": codes} for status, codes in pairs}


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """Whether the backend can serve challenges: the store answers and the AI server is ready."""

    ready: bool
    checks: dict[str, Any]
