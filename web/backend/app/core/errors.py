"""The backend's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

siteverify is the exception: it always answers in its own reCAPTCHA-compatible shape (``success`` and
``error-codes``), see :mod:`web.backend.app.schemas.siteverify`.

Every code, its status and when it is answered: :mod:`web.backend.app.core.codes` (the one list; a trace that
breaks the schema is answered 422 with its own code, :data:`tcurity.traces.TRACE_CODES`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request

from tcurity.web import errors as contract
from tcurity.web.errors import ApiError, JsonBody, error_body, validation_body
from web.backend.app.store.base import StoreUnavailableError

__all__ = ["ApiError", "JsonBody", "error_body", "install_error_handlers", "validation_body"]

logger = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Maps every failure onto the error contract (:mod:`tcurity.web.errors`; never a bare 500 for bad input),
    plus the backend's own: an unreachable store, and an unexpected error (``internal_error``)."""
    contract.install_error_handlers(app, other_http_code="invalid_request")

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
