"""The service token: only the backend may call the AI server."""

from __future__ import annotations

import hmac

from fastapi import Request

from serving.errors import ApiError


def check_token(request: Request) -> None:
    """Checks ``Authorization: Bearer <AI_SERVER_TOKEN>`` in constant time.

    Raises:
        ApiError: 401 ``unauthorized``.
    """
    authorization = request.headers.get("authorization")
    expected = f"Bearer {request.app.state.settings.ai_server_token.get_secret_value()}".encode()
    given = (authorization or "").encode()
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthorized", "a valid service token is required")


async def require_token(request: Request) -> None:
    """:func:`check_token` as a dependency (async: no thread-pool hop)."""
    check_token(request)
