"""The service token: only the backend may call the AI server."""

from __future__ import annotations

import hmac

from fastapi import Request

from serving.errors import ApiError


async def require_token(request: Request) -> None:
    """Checks ``Authorization: Bearer <AI_SERVER_TOKEN>`` in constant time (async: no thread-pool hop)."""
    authorization = request.headers.get("authorization")
    expected = f"Bearer {request.app.state.settings.ai_server_token.get_secret_value()}".encode()
    given = (authorization or "").encode()
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthorized", "a valid service token is required")
