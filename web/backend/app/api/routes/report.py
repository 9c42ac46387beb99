"""report: a site labels a past challenge with what it learned later (sites that collect traces only)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from web.backend.app.api.deps import BadBodyError, ClientIp, Svc, form_or_json
from web.backend.app.core.errors import ApiError
from web.backend.app.core.security import TokenError
from web.backend.app.schemas.common import errors
from web.backend.app.schemas.report import ReportRequest, ReportResponse
from web.backend.app.services.ratelimit import too_many
from web.backend.app.services.session import ref, store_unavailable
from web.backend.app.store.base import StoreUnavailableError

router = APIRouter(prefix="/api/v1", tags=["report"])
logger = logging.getLogger(__name__)

_BODY_SCHEMA = ReportRequest.model_json_schema()


async def _parse(request: Request) -> ReportRequest:
    try:
        fields: dict[str, Any] = await form_or_json(request)
    except BadBodyError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    try:
        return ReportRequest.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from exc


@router.post(
    "/report",
    response_model=ReportResponse,
    responses=errors(
        (401, "invalid_secret"),
        (404, "session_not_found"),
        (409, "collection_disabled"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (422, "invalid_request, invalid_response"),
        (429, "rate_limited"),
        (503, "store_unavailable"),
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BODY_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _BODY_SCHEMA},
            },
        }
    },
)
async def report(request: Request, services: Svc, ip: ClientIp) -> ReportResponse:
    """Attach the site's label (confirmed_bot, confirmed_human, chargeback, …) to a challenge's collected traces."""
    body = await _parse(request)
    retry = await services.limiter.blocked_for("secret_failure", ip, services.settings.secret_failures_per_ip)
    if retry is not None:
        raise too_many(retry, "wrong secrets")
    site = services.sites.by_secret(body.secret)
    if site is None:
        await services.limiter.count_failure("secret_failure", ip)
        raise ApiError(401, "invalid_secret", "missing or wrong site secret")
    session_id = body.session_id
    if body.response is not None:
        try:
            claims = await services.tokens.claims(body.response)
        except TokenError as exc:
            raise ApiError(422, "invalid_response", "the pass token is malformed or forged") from exc
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        if claims is None:  # kept for the site's retention when it collects, else only for the token's life
            raise ApiError(404, "session_not_found", "the pass token's session is unknown or expired")
        if claims.sitekey != site.sitekey:
            raise ApiError(422, "invalid_response", "the pass token belongs to another site")
        session_id = claims.session_id
    assert session_id is not None
    if not site.policy.collect:
        raise ApiError(409, "collection_disabled", "this site does not collect traces")
    labelled = await services.collector.label(site, session_id, body.label)
    if labelled == 0:
        raise ApiError(
            404,
            "session_not_found",
            "no collected passing trace of this session (unknown, expired or refused)",
        )
    logger.info(
        "report", extra={"fields": {"session": ref(session_id), "label": body.label, "traces": labelled}}
    )
    return ReportResponse(labelled=labelled, label=body.label)
