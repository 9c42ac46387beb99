"""CORS that follows the sites' allowed hostnames, decided per request ``Origin``.

The browser's challenge calls come from the protected site's pages. A preflight is answered for an origin
whose host is an allowed hostname of *some* site (the preflight carries no sitekey); the actual request gets
``Access-Control-Allow-Origin`` on the same condition, and the challenge handlers then require the origin's
host to be a hostname of the request's own site (or the session's hostname). siteverify and report are
server-to-server and never get CORS headers.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.backend.app.core.limits import reject

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "content-type, x-request-id"
PREFLIGHT_MAX_AGE_S = "600"


def origin_host(origin: str | None, allow_http: bool) -> str | None:
    """The host of an ``Origin`` header when it is a well-formed https origin (http only on loopback or in
    development); ``None`` otherwise."""
    if not origin or origin == "null":
        return None
    try:
        parts = urlsplit(origin)
        host = parts.hostname
        _ = parts.port  # raises for a malformed port
    except ValueError:
        return None
    if host is None or parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        return None
    if parts.scheme == "https" or (parts.scheme == "http" and (allow_http or host in LOOPBACK_HOSTS)):
        return host.lower()
    return None


class DynamicCors:
    """Pure ASGI middleware for the paths under ``prefix``; ``hostnames`` gives the current allowed set."""

    def __init__(
        self, app: ASGIApp, prefix: str, hostnames: Callable[[], frozenset[str]], allow_http: bool
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.hostnames = hostnames
        self.allow_http = allow_http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        host = origin_host(origin, self.allow_http)
        allowed = host is not None and host in self.hostnames()
        if scope["method"] == "OPTIONS" and origin is not None:
            if not allowed:
                await reject(send, 403, "origin_not_allowed", "this origin may not call the challenge API")
                return
            await _preflight(send, origin)
            return
        if not allowed or origin is None:
            await self.app(scope, receive, send)
            return
        allow = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *allow]
            await send(message)

        await self.app(scope, receive, with_cors)


async def _preflight(send: Send, origin: str) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE_S.encode()),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
