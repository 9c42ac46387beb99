"""The AI server's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

Every code and when it is answered: :mod:`serving.codes` (the one list, also rendered into the OpenAPI
description; a trace that breaks the schema is answered 422 with its own code, :data:`tcurity.traces.TRACE_CODES`).
"""

from __future__ import annotations

from fastapi import FastAPI

from tcurity.web import errors as contract
from tcurity.web.errors import ApiError, error_body

__all__ = ["ApiError", "error_body", "install_error_handlers"]


def install_error_handlers(app: FastAPI) -> None:
    """Maps every failure onto the error contract (:mod:`tcurity.web.errors`, never a bare 500 for bad input)."""
    contract.install_error_handlers(app, other_http_code="http_error")
