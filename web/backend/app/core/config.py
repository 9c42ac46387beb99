"""Runtime settings of the backend, from the environment (one class, read once at start-up).

Secrets (``AI_SERVER_TOKEN``, ``TOKEN_SIGNING_KEY``, ``SITE_SECRET_PEPPER``) are required and have no default;
a placeholder or a short value is refused unless ``TCURITY_ENV=development``.

``TCURITY_ENV`` is one of ``production`` (the default: https origins only, no API docs), ``local`` (the local
stack of ``make up``: production's rules, except that ``http://`` origins on loopback hosts are allowed, since
that stack serves plain http on 127.0.0.1), ``test`` (as ``local``, plus the API docs) and ``development``
(placeholder secrets, any ``http://`` origin and the built-in dev site).
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from tcurity.web.placeholder_secrets import is_weak_secret
from tcurity.web.service_settings import ServiceSettings
from web.backend.app.core.cors import HttpOrigins

MIN_SERVICE_TOKEN_CHARS = 16
MIN_KEY_CHARS = 32
# A pass token lives at most this long: the product's contract with the sites (a pass is short-lived).
MAX_PASS_TOKEN_TTL_S = 120
# The per-client limits, by variable name (harnesses that drive many sessions from one address lift them).
CLIENT_LIMIT_VARIABLES = (
    "RATE_LIMIT_PER_IP",
    "RATE_LIMIT_PER_NETWORK",
    "SESSIONS_PER_IP",
    "SESSIONS_PER_NETWORK",
    "PASSES_PER_IP",
    "PASSES_PER_NETWORK",
    "PROBLEMS_PER_IP",
    "PROBLEMS_PER_NETWORK",
    "PHASE_B_BUDGET_PER_IP",
    "PHASE_B_BUDGET_PER_NETWORK",
)


class Settings(ServiceSettings):
    """Environment variables of the backend (names as production uses them).

    Attributes:
        tcurity_env: ``production``, ``local``, ``test`` or ``development`` (see the module docstring).
        ai_server_url: where the AI server answers (``AI_SERVER_URL``).
        ai_server_token: the AI server's service token (Bearer).
        ai_timeout_s: per-call timeout towards the AI server; past it the call counts as unavailable.
        token_signing_key: HMAC-SHA256 key of pass tokens, shared by every backend instance.
        site_secret_pepper: HMAC key under which site secrets are stored (losing it invalidates every secret).
        sites_file: the site registry the CLI writes (JSON).
        redis_url: ``redis://…`` for a shared store; unset keeps everything in this process's memory.
        collect_redis_url: ``redis://…`` of the Redis that holds collected traces and labels (an instance with
            ``maxmemory`` and an LRU policy, apart from the ``noeviction`` one of ``REDIS_URL``); unset keeps
            them in the main store.
        session_ttl_s: a challenge session's whole life, from creation.
        pass_token_ttl_s: how long a pass token may be verified (at most 120 s).
        phase_a_time_limit_s / phase_b_time_limit_s: the time a client has to answer an issued task (told to
            the client and enforced as told).
        rate_limit_window_s: the fixed window of every rate limit.
        rate_limit_per_ip / rate_limit_per_sitekey: challenge requests per window per client IP / per site.
        secret_failures_per_ip: wrong secrets per window per IP on siteverify and report before 429.
        phase_b_budget_window_s / phase_b_budget_per_ip / phase_b_budget_per_network: Phase B problems a
            client IP (IPv6: its /64), and its /24 (IPv6: /48), may be issued per window before 429 ``solve_budget_exhausted``
            (security review finding 8: a solver model must not get problems without limit).
        idempotency_ttl_s: the longest a siteverify answer is kept for retries with the same idempotency key
            (it never outlives its token by more than a few seconds).
        trusted_proxies: the proxies (``TRUSTED_PROXIES``: IPs or CIDRs, comma-separated; empty by default)
            whose ``X-Forwarded-For`` is believed. Only when the direct peer is one of them does the client IP
            come from that header: its right-most hop that is not itself a trusted proxy
            (:func:`web.backend.app.api.deps.client_ip`). Anyone else's header is ignored.
        rate_limit_per_network: challenge requests per window per client network (``/24`` IPv4, ``/48`` IPv6).
        sessions_per_ip / sessions_per_network: new sessions per window per client IP / network.
        passes_per_ip / passes_per_network: passes (tokens) per window per client IP / network.
        problems_per_ip / problems_per_network: Phase B problems issued per window per client IP / network
            (each one costs the AI server's serialised problem generator).
        ai_breaker_failures: AI server calls that could not reach it, in a row, before the circuit opens.
        ai_breaker_open_s: how long an open circuit fails calls at once before one probe call is tried.
        unscored_passes_per_site / unscored_window_s: a fail-open site passes at most this many phases
            unscored per window (counted in the shared store, across replicas); past it, it fails closed.
        max_body_bytes: request bodies above this are refused (413).
        metrics_token: when set, ``/api/metrics`` requires ``Authorization: Bearer <it>``.
        collected_dir: where the export command writes labelled traces (the pipeline reads it).
        phase_b_issues_per_sitekey: Phase B problems issued per window per site (on top of the per-client
            ``problems_per_ip`` / ``problems_per_network``), so no one site drains the shared pool.
        problem_pool_depth: how many ready Phase B problems the filler keeps in the pool (it pauses when full).
        problem_pool_batch: problems asked of the AI server per call (at most its ``MAX_PROBLEMS_PER_REQUEST``).
        problem_pool_ttl_s: a pooled problem is dropped unserved this long after it was made.
        problem_pool_filler: run the pool filler in this process (a store lease lets one replica fill at a
            time); set it off in the backends where ``python -m web.backend.app.filler`` runs apart.
        problem_pool_timeout_s: the time limit of one batch call of the filler to the AI server.
        problem_pool_retry_after_s: the ``Retry-After`` of ``pool_empty`` (no ready problem left).
        api_docs: serve ``/api/docs`` and ``/api/openapi.json`` (``API_DOCS``); unset, on in development and
            test only. The SDK's types come from ``python -m web.backend.openapi``, which needs neither.
    """

    ai_server_url: str = "http://127.0.0.1:9000"
    ai_server_token: SecretStr
    ai_timeout_s: float = Field(default=2.0, gt=0.0, le=30.0)
    token_signing_key: SecretStr
    site_secret_pepper: SecretStr
    sites_file: Path = Path("config/sites.json")
    sites_reload_interval_s: float = Field(default=2.0, ge=0.0)
    redis_url: str | None = None
    collect_redis_url: str | None = None
    session_ttl_s: int = Field(default=600, ge=30, le=3600)
    pass_token_ttl_s: int = Field(default=MAX_PASS_TOKEN_TTL_S, ge=10, le=MAX_PASS_TOKEN_TTL_S)
    phase_a_time_limit_s: float = Field(default=30.0, gt=0.0, le=180.0)
    phase_b_time_limit_s: float = Field(default=90.0, gt=0.0, le=180.0)
    rate_limit_window_s: int = Field(default=60, ge=1, le=3600)
    rate_limit_per_ip: int = Field(default=120, ge=1)
    rate_limit_per_sitekey: int = Field(default=60_000, ge=1)
    secret_failures_per_ip: int = Field(default=10, ge=1)
    phase_b_budget_window_s: int = Field(default=3600, ge=60, le=86_400)
    phase_b_budget_per_ip: int = Field(default=30, ge=1)
    phase_b_budget_per_network: int = Field(default=300, ge=1)
    idempotency_ttl_s: int = Field(default=3600, ge=60)
    replay_window_s: int = Field(default=86_400, ge=60)
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    rate_limit_per_network: int = Field(default=1200, ge=1)
    sessions_per_ip: int = Field(default=30, ge=1)
    sessions_per_network: int = Field(default=200, ge=1)
    passes_per_ip: int = Field(default=10, ge=1)
    passes_per_network: int = Field(default=100, ge=1)
    problems_per_ip: int = Field(default=15, ge=1)
    problems_per_network: int = Field(default=150, ge=1)
    ai_breaker_failures: int = Field(default=5, ge=1, le=1000)
    ai_breaker_open_s: float = Field(default=10.0, gt=0.0, le=600.0)
    unscored_passes_per_site: int = Field(default=20, ge=0)
    unscored_window_s: int = Field(default=600, ge=1, le=86_400)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    metrics_token: SecretStr | None = None
    collected_dir: Path = Path("data/collected")
    log_level: str = "INFO"
    phase_b_issues_per_sitekey: int = Field(default=30_000, ge=1)
    problem_pool_depth: int = Field(default=256, ge=1, le=100_000)
    problem_pool_batch: int = Field(default=8, ge=1, le=64)
    problem_pool_ttl_s: int = Field(default=600, ge=10, le=86_400)
    problem_pool_filler: bool = True
    problem_pool_timeout_s: float = Field(default=30.0, gt=0.0, le=300.0)
    problem_pool_retry_after_s: int = Field(default=2, ge=1, le=60)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        """``TRUSTED_PROXIES`` as ``10.0.0.5, 172.16.0.0/12`` (an address is its own /32 or /128)."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.tcurity_env == "development":
            return self
        required = {
            "AI_SERVER_TOKEN": (self.ai_server_token, MIN_SERVICE_TOKEN_CHARS),
            "TOKEN_SIGNING_KEY": (self.token_signing_key, MIN_KEY_CHARS),
            "SITE_SECRET_PEPPER": (self.site_secret_pepper, MIN_KEY_CHARS),
        }
        for name, (secret, min_chars) in required.items():
            if is_weak_secret(secret.get_secret_value(), min_chars):
                raise ValueError(
                    f"{name} must be a real secret of {min_chars}+ characters outside development"
                )
        if self.token_signing_key.get_secret_value() == self.site_secret_pepper.get_secret_value():
            raise ValueError("TOKEN_SIGNING_KEY and SITE_SECRET_PEPPER must differ")
        return self

    @property
    def development(self) -> bool:
        return self.tcurity_env == "development"

    @property
    def http_origins(self) -> HttpOrigins:
        """Which ``http://`` origins may call the challenge API: any in development, loopback hosts in the
        local stack and in tests, none in production."""
        if self.tcurity_env == "development":
            return "any"
        return "loopback" if self.tcurity_env in ("local", "test") else "none"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read from the environment once per process."""
    return Settings()
