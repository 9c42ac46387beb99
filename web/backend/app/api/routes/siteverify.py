"""siteverify: the protected site's server checks a pass token with its secret (server to server, no CORS)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from web.backend.app.api.deps import BadBodyError, client_ip, form_or_json, get_services
from web.backend.app.core.codes import SITEVERIFY_ERROR_CODES
from web.backend.app.core.errors import JsonBody
from web.backend.app.core.security import client_key
from web.backend.app.schemas.common import errors
from web.backend.app.schemas.siteverify import SiteverifyRequest, SiteverifyResponse
from web.backend.app.services.verify import verdict

router = APIRouter(prefix="/api/v1", tags=["siteverify"])

_BODY_SCHEMA = SiteverifyRequest.model_json_schema()
_DESCRIPTION = "Error codes (in `error-codes`):\n" + "\n".join(
    f"- `{code}`: {text}" for code, text in SITEVERIFY_ERROR_CODES.items()
)


@router.post(
    "/siteverify",
    response_model=SiteverifyResponse,
    description=_DESCRIPTION,
    responses={
        429: {"model": SiteverifyResponse, "description": "rate-limited (see Retry-After)"},
        **errors((413, "payload_too_large"), (415, "unsupported_media_type")),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _BODY_SCHEMA},
                "application/json": {"schema": _BODY_SCHEMA},
            },
        }
    },
)
async def siteverify(request: Request) -> JsonBody:
    """Verify a pass token once: success, when and where it was solved, scores, reasons and model versions."""
    # The hottest endpoint takes nothing through dependency injection: it costs a third of a request here.
    services = await get_services(request)
    ip = client_key(client_ip(request, services.settings))  # wrong secrets count per IPv4 address or IPv6 /64
    try:
        fields: dict[str, Any] = await form_or_json(request)
        body = SiteverifyRequest.model_validate(fields)
    except (BadBodyError, ValidationError):
        return JsonBody(verdict(["bad-request"]))
    status, answer, retry = await services.verifier.verify(body, ip)
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return JsonBody(answer, status_code=status, headers=headers)
