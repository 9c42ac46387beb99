"""Where sessions, one-time tokens, idempotent answers, rate counters and collected traces live."""

from __future__ import annotations

from web.backend.app.store.base import Store, StoreUnavailableError
from web.backend.app.store.memory import MemoryStore


def make_store(redis_url: str | None) -> Store:
    """Redis when ``REDIS_URL`` is set, else the in-process store."""
    if redis_url:
        from web.backend.app.store.redis_store import RedisStore

        return RedisStore(redis_url)
    return MemoryStore()


def make_collect_store(collect_redis_url: str | None, main: Store) -> Store:
    """Where collected traces live: ``COLLECT_REDIS_URL``'s Redis when set, else the main store."""
    return make_store(collect_redis_url) if collect_redis_url else main


__all__ = ["MemoryStore", "Store", "StoreUnavailableError", "make_collect_store", "make_store"]
