"""The backend's error contract: every failure is ``{"error": {"code", "message", "details"}}``.

siteverify is the exception: it always answers in its own reCAPTCHA-compatible shape (``success`` and
``error-codes``), see :mod:`web.backend.app.schemas.siteverify`.

| status | code | when |
|---|---|---|
| 400 | ``invalid_sitekey`` | the sitekey names no site |
| 401 | ``invalid_secret`` | report: missing or wrong site secret |
| 401 | ``unauthorized`` | metrics: missing or wrong metrics token |
| 403 | ``origin_not_allowed`` | the request's ``Origin`` is missing or not an allowed hostname of the site/session |
| 404 | ``not_found`` | unknown path |
| 404 | ``session_not_found`` | unknown or expired challenge session (or no passing trace collected for it, on report) |
| 405 | ``method_not_allowed`` | wrong method |
| 409 | ``invalid_state`` | the session is not in a state that allows this step |
| 409 | ``task_expired`` | the answer came after the task's time limit; ask for a new task |
| 409 | ``attempts_exhausted`` | no attempt left in this phase or session |
| 409 | ``conflict`` | the same task was answered concurrently; only one answer counts |
| 409 | ``collection_disabled`` | report: the site does not collect traces |
| 413 | ``payload_too_large`` | body over ``MAX_BODY_BYTES`` |
| 415 | ``unsupported_media_type`` | body is not JSON (or, for siteverify/report, not a form) |
| 422 | ``invalid_request`` | the body does not match the schema |
| 422 | ``invalid_response`` | report: the token is malformed or forged |
| 422 | ``wrong_task`` | the trace does not answer the task that was issued |
| 422 | a trace code (``too_few_points``, ``time_not_monotonic``, ``bad_event_sequence``, …) | the trace breaks the schema |
| 429 | ``rate_limited`` | too many requests, sessions or passes from this client IP (IPv6: its ``/64``) or its network (``/24``, ``/48``), or for the site (``Retry-After`` says when to come back) |
| 429 | ``solve_budget_exhausted`` | too many Phase B problems for this IP or its /24 in the budget window (``Retry-After``) |
| 500 | ``internal_error`` | a bug; never for bad input |
| 503 | ``ai_unavailable`` | the AI server is unreachable or gave no usable answer (or a fail-open site's unscored budget is spent); retry later: no pass is given, the task stays open, and a failed Phase B issue uses no attempt |
| 503 | ``pool_empty`` | no Phase B problem made ahead is ready; retry after ``Retry-After`` (no pass, no attempt used) |
| 503 | ``service_not_ready`` | the AI server lacks a model or the problem bank; an operator must fix it (never fails open) |
| 503 | ``store_unavailable`` | the session store is unreachable |
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request

from tcurity.web import errors as contract
from tcurity.web.errors import ApiError, JsonBody, error_body, validation_body
from web.backend.app.store.base import StoreUnavailableError

__all__ = ["ERROR_CODES", "ApiError", "JsonBody", "error_body", "install_error_handlers", "validation_body"]

logger = logging.getLogger(__name__)

ERROR_CODES: dict[str, str] = {
    "invalid_sitekey": "the sitekey names no site",
    "invalid_secret": "missing or wrong site secret",
    "unauthorized": "missing or wrong metrics token",
    "origin_not_allowed": "the Origin is missing or not an allowed hostname of the site or session",
    "not_found": "unknown path",
    "session_not_found": "unknown or expired challenge session",
    "method_not_allowed": "wrong method",
    "invalid_state": "the session's state does not allow this step",
    "task_expired": "the answer came after the task's time limit",
    "attempts_exhausted": "no attempt left in this phase or session",
    "conflict": "the task was answered concurrently; only one answer counts",
    "collection_disabled": "the site does not collect traces",
    "payload_too_large": "request body over the size limit",
    "unsupported_media_type": "request body of a type this endpoint does not take",
    "invalid_request": "the body does not match the schema",
    "invalid_response": "the pass token is malformed or forged",
    "wrong_task": "the trace does not answer the task that was issued",
    "rate_limited": "too many requests, sessions or passes from this client, its network or for the site; see Retry-After",
    "solve_budget_exhausted": "too many Phase B problems for this IP or its network; see Retry-After",
    "internal_error": "an unexpected server error",
    "ai_unavailable": "the AI server is unreachable or gave no usable answer; retry later (no pass is given)",
    "pool_empty": "no Phase B problem is ready; retry after Retry-After (never a pass)",
    "service_not_ready": "a model or the problem bank is missing on the AI server; not retryable in seconds",
    "store_unavailable": "the session store is unreachable",
}


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
