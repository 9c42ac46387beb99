"""Fixed-window rate limits on the store (shared through Redis when configured)."""

from __future__ import annotations

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
