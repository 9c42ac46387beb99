"""Fixed-window rate limits on the store (shared through Redis when configured)."""

from __future__ import annotations

from web.backend.app.core.errors import ApiError
from web.backend.app.core.security import limit_network
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.store.base import RateDecision, Store


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
    """Counts requests per scope and key in windows of ``window_s``.

    Scopes: ``ip`` and ``net`` (every challenge request per client IP, an IPv6 client being its ``/64``, and per ``/24``/``/48``), ``site_ip`` and
    ``site_net`` (a client's share of one site's cap), ``sitekey`` (the site's cap), ``session_ip`` and
    ``session_net`` (new sessions), ``problem_ip`` and ``problem_net`` (Phase B problems), ``pass_ip`` and ``pass_net`` (passes), ``unscored`` (a fail-open site's
    unscored passes) and ``secret_failure`` (wrong secrets).
    """

    def __init__(self, store: Store, telemetry: Telemetry, window_s: int) -> None:
        self._store = store
        self._telemetry = telemetry
        self.window_s = window_s

    @property
    def store(self) -> Store:
        """The store the counters live in (shared with :func:`spend_phase_b_budget`)."""
        return self._store

    async def hit(self, scope: str, key: str, limit: int, what: str = "requests") -> None:
        """Counts one request (or one ``what``: sessions, passes).

        Raises:
            ApiError: 429 ``rate_limited`` when the window's count passes ``limit``.
        """
        decision = await self._store.hit(f"{scope}:{key}", limit, self.window_s)
        if not decision.allowed:
            self._telemetry.rate_limited.labels(scope).inc()
            raise too_many(decision.retry_after_s, what)

    async def take(self, scope: str, key: str, limit: int, window_s: int | None = None) -> RateDecision:
        """Counts one use of a budget (per ``window_s``, the limiter's window by default) and says whether it was
        still within ``limit`` and when the window ends. No error: the caller decides what a spent budget means."""
        decision = await self._store.hit(f"{scope}:{key}", limit, window_s or self.window_s)
        if not decision.allowed:
            self._telemetry.rate_limited.labels(scope).inc()
        return decision

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
    """The network an IP's Phase B budget is shared with: the same /24 (IPv4) or /48 (IPv6) as every other
    per-network limit (:func:`web.backend.app.core.security.limit_network`; the key itself if unparsable)."""
    return limit_network(ip)


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
