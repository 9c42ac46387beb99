"""Request-size and media-type limits of both services, enforced before a body is parsed."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tcurity.web.errors import error_body

JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"


class BodyLimit:
    """Pure ASGI middleware: refuses bodies over ``max_bytes`` (413) and bodies of another media type (415).

    JSON everywhere; ``form_paths`` (the backend's siteverify and report, called by site servers as reCAPTCHA's
    is) also take ``application/x-www-form-urlencoded``. The limit holds whether a length is declared or not.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, form_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_paths = frozenset(form_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._too_large(send)
            return
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        allowed = (JSON, FORM) if scope["path"] in self.form_paths else (JSON,)
        if has_body and media not in allowed:
            kinds = " or ".join(m.decode() for m in allowed)
            await reject(send, 415, "unsupported_media_type", f"send the body as {kinds}")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLargeError:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await reject(send, 413, "payload_too_large", f"request bodies are limited to {self.max_bytes} bytes")


class _BodyTooLargeError(Exception):
    pass


async def reject(send: Send, status: int, code: str, message: str) -> None:
    """Sends a complete error response from middleware (outside FastAPI's handlers)."""
    body = orjson.dumps(error_body(code, message))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
