"""Request-size and media-type limits, enforced before a body is parsed."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_body


class BodyLimit:
    """Refuses bodies over ``max_bytes`` (413) and non-JSON bodies (415), whether a length is declared or not."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _reject(
                send, 413, "payload_too_large", f"request bodies are limited to {self.max_bytes} bytes"
            )
            return
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if has_body and media != b"application/json":
            await _reject(send, 415, "unsupported_media_type", "send the body as application/json")
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
            await _reject(
                send, 413, "payload_too_large", f"request bodies are limited to {self.max_bytes} bytes"
            )


class _BodyTooLargeError(Exception):
    pass


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps(error_body(code, message))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
