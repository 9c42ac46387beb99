"""Typed dependencies shared by the routers: the services, the client's IP and origin, form-or-JSON bodies."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, Request

from web.backend.app.core.config import Settings
from web.backend.app.core.cors import origin_host
from web.backend.app.core.security import MAX_USER_AGENT_CHARS, client_key
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.ai_client import AiClient
from web.backend.app.services.challenge import ChallengeFlow
from web.backend.app.services.collect import Collector
from web.backend.app.services.problem_pool import PoolFiller, ProblemPool
from web.backend.app.services.ratelimit import RateLimiter
from web.backend.app.services.tokens import PassTokens
from web.backend.app.services.verify import Verifier
from web.backend.app.sites import SiteRegistry
from web.backend.app.store.base import Store


@dataclass(frozen=True)
class Services:
    """Everything the routes use, built once per app."""

    settings: Settings
    sites: SiteRegistry
    store: Store
    ai: AiClient
    flow: ChallengeFlow
    verifier: Verifier
    collector: Collector
    limiter: RateLimiter
    telemetry: Telemetry
    tokens: PassTokens
    pool: ProblemPool
    filler: PoolFiller


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]


# A forwarded hop that is no address is keyed as itself under this prefix (never as the proxy), cut to this length.
UNPARSED_HOP_PREFIX = "hop:"
MAX_HOP_CHARS = 64


def client_ip(request: Request, settings: Settings) -> str:
    """The client's IP, which every per-IP and per-network limit keys on.

    ``X-Forwarded-For`` is believed only when the direct peer is one of ``TRUSTED_PROXIES``. Then the client is
    the right-most hop that is not itself a trusted proxy: each trusted proxy appends the address it saw, so
    everything left of that hop was written by the client and may be anything. Otherwise (no trusted proxy
    configured, or a peer that is not one) the header is ignored and the peer is the client.

    A hop may carry a port (``198.51.100.7:4711``, ``[2001:db8::1]:443``) or brackets; they are dropped. A hop
    that is still no address is keyed as itself (``hop:`` and its first 64 characters), never as the proxy:
    falling back to the peer would put every such client into the proxy's one bucket (review finding 11).
    """
    peer = request.client.host if request.client else "unknown"
    proxies = settings.trusted_proxies
    if not proxies or not _is_in(peer, proxies):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    for hop in reversed(hops):
        if not _is_in(hop, proxies):
            address = _address(hop)
            return str(address) if address is not None else UNPARSED_HOP_PREFIX + hop[:MAX_HOP_CHARS]
    return peer


def _strip_port(text: str) -> str:
    """``text`` without a port and brackets: ``[v6]:port``, ``[v6]`` and ``v4:port`` give the bare address."""
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 and (end == len(text) - 1 or text[end + 1] == ":") else text
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ipaddress.ip_address(_strip_port(text.strip()))
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_in(text: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


async def get_client_ip(request: Request, services: Svc) -> str:
    """The client's limit key as a dependency: :func:`client_ip` through
    :func:`~web.backend.app.core.security.client_key` (an IPv6 client is its ``/64``)."""
    return client_key(client_ip(request, services.settings))


async def get_origin_host(request: Request, services: Svc) -> str | None:
    """The host of the request's ``Origin`` when it is a well-formed allowed-scheme origin."""
    return origin_host(request.headers.get("origin"), services.settings.http_origins)


async def get_user_agent(request: Request) -> str:
    """The request's ``User-Agent`` (at most 512 characters; ``""`` when absent), for token binding."""
    return request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS]


ClientIp = Annotated[str, Depends(get_client_ip)]
OriginHost = Annotated[str | None, Depends(get_origin_host)]
UserAgent = Annotated[str, Depends(get_user_agent)]


class BadBodyError(ValueError):
    """A body that is neither a JSON object nor a form."""


async def form_or_json(request: Request) -> dict[str, Any]:
    """The body as a dict, from ``application/json`` (an object) or ``application/x-www-form-urlencoded``.

    Raises:
        BadBodyError: for undecodable bodies or a JSON value that is not an object.
    """
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not raw:
        return {}
    if media == "application/json":
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadBodyError("body is not valid JSON") from exc
        if not isinstance(value, dict):
            raise BadBodyError("body must be a JSON object")
        return value
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=False, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise BadBodyError("form is not UTF-8") from exc
