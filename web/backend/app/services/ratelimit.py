"""Fixed-window rate limits on the store (shared through Redis when configured)."""

from __future__ import annotations

import ipaddress

from web.backend.app.core.errors import ApiError
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.store.base import Store


def too_many(retry_after_s: int, what: str) -> ApiError:
    """The 429 every limit answers with, ``Retry-After`` set to the end of the window."""
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}; retry after {retry_after_s} s",
        {"retry_after_s": retry_after_s},
        headers={"Retry-After": str(retry_after_s)},
    )


class RateLimiter:
    """Counts requests per scope and key (``ip``, ``sitekey``, ``secret_failure``) in windows of ``window_s``."""

    def __init__(self, store: Store, telemetry: Telemetry, window_s: int) -> None:
        self._store = store
        self._telemetry = telemetry
        self.window_s = window_s

    @property
    def store(self) -> Store:
        """The store the counters live in (shared with :func:`spend_phase_b_budget`)."""
        return self._store

    async def hit(self, scope: str, key: str, limit: int) -> None:
        """Counts one request.

        Raises:
            ApiError: 429 ``rate_limited`` when the window's count passes ``limit``.
        """
        decision = await self._store.hit(f"{scope}:{key}", limit, self.window_s)
        if not decision.allowed:
            self._telemetry.rate_limited.labels(scope).inc()
            raise too_many(decision.retry_after_s, "requests")

    async def blocked_for(self, scope: str, key: str, limit: int) -> int | None:
        """Seconds until ``key`` may try again when it already reached ``limit`` in this window, else ``None``."""
        decision = await self._store.window_count(f"{scope}:{key}", self.window_s)
        if decision.count >= limit:
            self._telemetry.rate_limited.labels(scope).inc()
            return decision.retry_after_s
        return None

    async def count_failure(self, scope: str, key: str) -> None:
        """Counts one failure (e.g. a wrong secret) without refusing this request."""
        await self._store.hit(f"{scope}:{key}", 1 << 30, self.window_s)


# --- Phase B solve budget (security review finding 8) -----------------------------------------------------------
# Apart from RateLimiter's per-minute request limits: problems issued per client IP and per network over a longer
# window, so one address (or one /24) cannot farm problems for a solver model. Own key prefix, own function.
PHASE_B_BUDGET_PREFIX = "pbbudget"


def budget_network(ip: str) -> str:
    """The network an IP's Phase B budget is shared with: its IPv4 /24 or IPv6 /48 (the IP itself if unparsable)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def budget_exhausted(retry_after_s: int, scope: str) -> ApiError:
    """The 429 ``solve_budget_exhausted`` answer: ``scope`` is ``ip`` or ``network``, ``Retry-After`` set."""
    return ApiError(
        429,
        "solve_budget_exhausted",
        f"too many Phase B problems from this {'address' if scope == 'ip' else 'network'}; "
        f"retry after {retry_after_s} s",
        {"retry_after_s": retry_after_s, "scope": scope},
        headers={"Retry-After": str(retry_after_s)},
    )


async def spend_phase_b_budget(
    store: Store, telemetry: Telemetry, ip: str, per_ip: int, per_network: int, window_s: int
) -> None:
    """Counts one Phase B problem issued to ``ip`` against its own budget and its network's.

    Raises:
        ApiError: 429 ``solve_budget_exhausted`` when either count passes its budget in this window.
    """
    network = budget_network(ip)
    for scope, key, limit in (("ip", ip, per_ip), ("network", network, per_network)):
        decision = await store.hit(f"{PHASE_B_BUDGET_PREFIX}:{scope}:{key}", limit, window_s)
        if not decision.allowed:
            telemetry.rate_limited.labels(f"phase_b_budget_{scope}").inc()
            raise budget_exhausted(decision.retry_after_s, scope)
