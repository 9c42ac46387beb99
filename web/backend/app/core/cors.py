"""CORS that follows the sites' allowed hostnames, decided per request ``Origin``.

The browser's challenge calls come from the protected site's pages. A preflight is answered for an origin
whose host is an allowed hostname of *some* site (the preflight carries no sitekey); the actual request gets
``Access-Control-Allow-Origin`` on the same condition, and the challenge handlers then require the origin's
host to be a hostname of the request's own site (or the session's hostname). siteverify and report are
server-to-server and never get CORS headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tcurity.web.body_limit import reject

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "content-type, x-request-id"
PREFLIGHT_MAX_AGE_S = "600"
# Which http:// origins are accepted besides https ones: none (production), loopback hosts only (the local
# stack and tests, which serve plain http on 127.0.0.1), or any (development).
HttpOrigins = Literal["none", "loopback", "any"]


def origin_host(origin: str | None, http_origins: HttpOrigins) -> str | None:
    """The host of an ``Origin`` header when it is a well-formed https origin, or an http origin that
    ``http_origins`` allows; ``None`` otherwise."""
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
    host = host.lower()
    if parts.scheme == "https":
        return host
    if parts.scheme == "http" and (
        http_origins == "any" or (http_origins == "loopback" and host in LOOPBACK_HOSTS)
    ):
        return host
    return None


class DynamicCors:
    """Pure ASGI middleware for the paths under ``prefix``; ``hostnames`` gives the current allowed set."""

    def __init__(
        self, app: ASGIApp, prefix: str, hostnames: Callable[[], frozenset[str]], http_origins: HttpOrigins
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.hostnames = hostnames
        self.http_origins: HttpOrigins = http_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        host = origin_host(origin, self.http_origins)
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
