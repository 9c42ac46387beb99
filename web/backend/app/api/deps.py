"""Typed dependencies shared by the routers: the services, the client's IP and origin, form-or-JSON bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, Request

from web.backend.app.core.config import Settings
from web.backend.app.core.cors import origin_host
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

MAX_USER_AGENT_CHARS = 512


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


def client_ip(request: Request, settings: Settings) -> str:
    """The client's IP: the last ``X-Forwarded-For`` hop when behind the trusted proxy, else the peer."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()[:64]
    return request.client.host if request.client else "unknown"


async def get_client_ip(request: Request, services: Svc) -> str:
    """:func:`client_ip` as a dependency."""
    return client_ip(request, services.settings)


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
