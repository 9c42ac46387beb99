"""The service token: only the backend may call the AI server."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from serving.errors import ApiError
from serving.settings import Settings, get_settings


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Checks ``Authorization: Bearer <AI_SERVER_TOKEN>`` in constant time."""
    expected = f"Bearer {settings.ai_server_token.get_secret_value()}".encode()
    given = (authorization or "").encode()
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthorized", "a valid service token is required")
