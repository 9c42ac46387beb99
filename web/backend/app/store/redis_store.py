"""The shared store on Redis (``REDIS_URL``): every backend instance sees the same sessions, tokens and counters.

Atomicity comes from Redis itself: sessions are hashes ``{rev, data}`` created and compare-and-set by Lua
scripts; one-time consumption is ``SET NX``; pass-token claims are plain keys with a TTL (``tok:{jti}``); counters are ``INCR`` with ``EXPIRE NX`` in one round trip.
Collected traces are hashes with a TTL, indexed per site by a sorted set (score: expiry) and per session by
a set; a label is one key per session. A site's quota is kept exactly by one Lua script per write: it frees the
index entries of expired traces (and their bytes, from a per-site size hash and byte counter), then adds the
trace only if the site's live bytes stay within the quota. Every key has a TTL (the per-site index, sizes and
counter live as long as their newest trace), so nothing outlives its data. The Phase B problem pool is one sorted
set whose members are the problems' bytes, scored by their expiry: a pop drops what expired and takes the first
to expire in one ``MULTI`` (``ZPOPMIN`` hands each member to one caller only), and the set expires with its
newest problem. A lease is a key ``SET NX`` with a TTL, renewed by its holder only (a Lua script). Keys are prefixed (``tcurity:`` by
default). Collection may live in its own Redis (``COLLECT_REDIS_URL``), one with ``maxmemory`` and an LRU
policy, while sessions and single-use markers stay on a ``noeviction`` instance.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from web.backend.app.store.base import (
    RateDecision,
    Store,
    StoredProfile,
    StoredTrace,
    StoreUnavailableError,
    TraceToKeep,
    Versioned,
    window_index,
)

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'rev', 0, 'data', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
"""
_REPLACE = """
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev or tonumber(rev) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'rev', tonumber(rev) + 1, 'data', ARGV[2])
return 1
"""

# A profile index is a sorted set scored by a global sequence; a member is "<seq>|<owner>|<expires ms>|<bytes>".
_ADD_PROFILE = """
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, seq .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
-- The counter lives as long as the longest-lived index it numbers (every key expires).
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return seq
"""
# Undoes a consume_once mark only for its own holder (another session's claim on the shape stays).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Collected traces. KEYS: the site's index (zset id → expiry), sizes (hash id → bytes), byte counter.
_SWEEP_FN = """
local function sweep(now, limit)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
  local freed = 0
  for _, id in ipairs(gone) do
    freed = freed + (tonumber(redis.call('HGET', KEYS[2], id)) or 0)
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
  end
  if freed > 0 and redis.call('DECRBY', KEYS[3], freed) <= 0 then redis.call('DEL', KEYS[3]) end
  return #gone
end
"""
SWEEP_BATCH = 1000  # expired traces freed per script call (bounds the time one call blocks Redis)
_PURGE = _SWEEP_FN + "return sweep(ARGV[1], tonumber(ARGV[2]))"
# KEYS[4]: the trace's hash, KEYS[5]: its session's set.
# ARGV: now, expires, ttl_ms, quota, trace id, session id, data, refused (0/1), sweep batch.
_ADD_TRACE = (
    _SWEEP_FN
    + """
sweep(ARGV[1], tonumber(ARGV[9]))
local size = string.len(ARGV[7])
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
if used + size > tonumber(ARGV[4]) then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[4], 'session', ARGV[6], 'expires', ARGV[2], 'refused', ARGV[8], 'data', ARGV[7])
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[5], size)
redis.call('INCRBY', KEYS[3], size)
redis.call('SADD', KEYS[5], ARGV[5])
for _, key in ipairs({KEYS[1], KEYS[2], KEYS[3], KEYS[5]}) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return 1
"""
)


MAX_CONNECTIONS = 256  # per process; more in-flight calls queue for a connection

# A lease: taken when free, renewed by its holder, refused to anyone else. ARGV: owner, ttl ms.
_HOLD_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""


class RedisStore(Store):
    """The Redis :class:`Store`; ``url`` is a ``redis://`` or ``rediss://`` URL.

    ``clock`` (Unix seconds) dates what the store itself expires by score (replay profiles, collected traces,
    the problem pool, rate windows); tests inject one to let that time pass without sleeping. Keys that Redis
    expires itself (sessions, consume marks, results, token claims, leases) follow Redis's own clock.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "tcurity:",
        timeout_s: float = 1.0,
        max_connections: int = MAX_CONNECTIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A blocking pool: past ``max_connections`` busy connections a call waits (up to ``timeout_s``) for one
        # instead of failing at once, as redis-py's default pool does past its 100 (a burst of requests).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._p = prefix
        self._clock = clock
        self._create = self._redis.register_script(_CREATE)
        self._replace = self._redis.register_script(_REPLACE)
        self._add_profile = self._redis.register_script(_ADD_PROFILE)
        self._release = self._redis.register_script(_RELEASE)
        self._add_trace = self._redis.register_script(_ADD_TRACE)
        self._purge = self._redis.register_script(_PURGE)
        self._hold_lease = self._redis.register_script(_HOLD_LEASE)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    # --- sessions ---------------------------------------------------------------------------------------------
    async def create_session(self, session_id: str, data: bytes, expires_at_s: float) -> bool:
        key = f"{self._p}s:{session_id}"
        created = await self._call(self._create(keys=[key], args=[data, int(expires_at_s * 1000)]))
        return bool(created)

    async def get_session(self, session_id: str) -> Versioned | None:
        found = await self._call(
            cast(Awaitable[Any], self._redis.hmget(f"{self._p}s:{session_id}", "rev", "data"))
        )
        rev, data = found
        return None if rev is None or data is None else Versioned(int(rev), bytes(data))

    async def replace_session(self, session_id: str, data: bytes, expected_rev: int) -> bool:
        key = f"{self._p}s:{session_id}"
        return bool(await self._call(self._replace(keys=[key], args=[expected_rev, data])))

    # --- one-time consumption ---------------------------------------------------------------------------------
    async def consume_once(self, key: str, owner: str, ttl_s: float) -> str | None:
        name = f"{self._p}c:{key}"
        first = await self._call(self._redis.set(name, owner, nx=True, px=max(1, int(ttl_s * 1000))))
        if first:
            return None
        earlier = await self._call(self._redis.get(name))
        return earlier.decode() if earlier is not None else ""

    # --- replay-profile indexes -------------------------------------------------------------------------------
    async def add_profile(self, index: str, owner: str, data: bytes, ttl_s: float, max_entries: int) -> int:
        ttl_ms = max(1, int(ttl_s * 1000))
        expires_ms = int(self._clock() * 1000) + ttl_ms
        keys = [f"{self._p}fp:{index}", f"{self._p}fpseq"]
        args: list[Any] = [owner, expires_ms, data, max_entries, ttl_ms]
        return int(await self._call(self._add_profile(keys=keys, args=args)))

    async def profiles(self, index: str) -> list[StoredProfile]:
        members = await self._call(self._redis.zrange(f"{self._p}fp:{index}", 0, -1))
        now_ms = self._clock() * 1000
        out = []
        for member in members:
            seq, owner, expires, data = bytes(member).split(b"|", 3)
            if int(expires) > now_ms:
                out.append(StoredProfile(int(seq), owner.decode(), data))
        return out

    async def remove_profile(self, index: str, seq: int) -> None:
        await self._call(self._redis.zremrangebyscore(f"{self._p}fp:{index}", seq, seq))

    async def release(self, key: str, owner: str) -> None:
        await self._call(self._release(keys=[f"{self._p}c:{key}"], args=[owner]))

    # --- idempotent results -----------------------------------------------------------------------------------
    async def put_result(self, key: str, data: bytes, ttl_s: float) -> None:
        await self._call(self._redis.set(f"{self._p}r:{key}", data, px=max(1, int(ttl_s * 1000))))

    async def get_result(self, key: str) -> bytes | None:
        found = await self._call(self._redis.get(f"{self._p}r:{key}"))
        return bytes(found) if found is not None else None

    # --- rate limits ------------------------------------------------------------------------------------------
    async def hit(self, key: str, limit: int, window_s: int) -> RateDecision:
        index, retry = window_index(self._clock(), window_s)
        name = f"{self._p}rl:{key}:{index}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_s + 1, nx=True)
            count, _ = await self._call(pipe.execute())
        return RateDecision(int(count) <= limit, int(count), retry)

    async def window_count(self, key: str, window_s: int) -> RateDecision:
        index, retry = window_index(self._clock(), window_s)
        found = await self._call(self._redis.get(f"{self._p}rl:{key}:{index}"))
        return RateDecision(True, int(found) if found is not None else 0, retry)

    # --- collected traces -------------------------------------------------------------------------------------
    def _site_keys(self, sitekey: str) -> list[str]:
        """The site's trace index, size hash and byte counter (the sweep's ``KEYS``)."""
        return [f"{self._p}trs:{sitekey}", f"{self._p}trsz:{sitekey}", f"{self._p}trb:{sitekey}"]

    async def add_trace(self, trace: TraceToKeep, *, quota_bytes: int) -> bool:
        now = self._clock()
        keys = [
            *self._site_keys(trace.sitekey),
            f"{self._p}tr:{trace.sitekey}:{trace.trace_id}",
            f"{self._p}trsess:{trace.sitekey}:{trace.session_id}",
        ]
        args: list[bytes | str | int] = [
            repr(now),
            repr(now + trace.ttl_s),
            max(1, int(trace.ttl_s * 1000)),
            quota_bytes,
            trace.trace_id,
            trace.session_id,
            trace.data,
            int(trace.refused),
            SWEEP_BATCH,
        ]
        return bool(await self._call(self._add_trace(keys=keys, args=args)))

    async def set_label(self, sitekey: str, session_id: str, label: str, ttl_s: float) -> int:
        ids = await self._call(
            cast(Awaitable[Any], self._redis.smembers(f"{self._p}trsess:{sitekey}:{session_id}"))
        )
        if not ids:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for trace_id in ids:
                pipe.hmget(f"{self._p}tr:{sitekey}:{trace_id.decode()}", "session", "refused", "expires")
            rows = await self._call(pipe.execute())
        now = (
            self._clock()
        )  # a trace past its expiry is not labelled, whether or not Redis has dropped it yet
        covered = sum(
            found is not None and refused != b"1" and expires is not None and float(expires) > now
            for found, refused, expires in rows
        )
        if covered:
            await self._call(
                self._redis.set(f"{self._p}lbl:{sitekey}:{session_id}", label, px=max(1, int(ttl_s * 1000)))
            )
        return covered

    async def traces(self, sitekey: str) -> list[StoredTrace]:
        ids = await self._call(self._redis.zrangebyscore(f"{self._p}trs:{sitekey}", self._clock(), "+inf"))
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for trace_id in ids:
                pipe.hgetall(f"{self._p}tr:{sitekey}:{trace_id.decode()}")
            rows = await self._call(pipe.execute())
        found = [(i.decode(), r) for i, r in zip(ids, rows, strict=True) if r]
        sessions = sorted({r[b"session"].decode() for _, r in found})
        labels: dict[str, str] = {}
        if sessions:
            values = await self._call(self._redis.mget([f"{self._p}lbl:{sitekey}:{s}" for s in sessions]))
            labels = {s: v.decode() for s, v in zip(sessions, values, strict=True) if v is not None}
        out = []
        for trace_id, r in found:
            session, refused = r[b"session"].decode(), r.get(b"refused") == b"1"
            label = None if refused else labels.get(session)
            out.append(
                StoredTrace(trace_id, session, float(r[b"expires"]), bytes(r[b"data"]), label, refused)
            )
        return out

    async def purge_expired(self) -> int:
        removed = 0
        now = repr(self._clock())
        prefix = f"{self._p}trs:"
        async for index_key in self._redis.scan_iter(match=f"{prefix}*", count=500):
            keys = self._site_keys(index_key.decode()[len(prefix) :])
            while True:
                gone = int(await self._call(self._purge(keys=keys, args=[now, SWEEP_BATCH])))
                removed += gone
                if gone < SWEEP_BATCH:
                    break
        return removed

    # --- pass-token claims ------------------------------------------------------------------------------------
    async def put_token_claims(self, jti: str, data: bytes, ttl_s: float) -> None:
        await self._call(self._redis.set(f"{self._p}tok:{jti}", data, px=max(1, int(ttl_s * 1000))))

    async def get_token_claims(self, jti: str) -> bytes | None:
        found = await self._call(self._redis.get(f"{self._p}tok:{jti}"))
        return bytes(found) if found is not None else None

    # --- the Phase B problem pool ------------------------------------------------------------------------------
    async def push_problems(self, problems: list[bytes], ttl_s: float) -> int:
        key = f"{self._p}pool:b"
        now_ms = int(self._clock() * 1000)
        ttl_ms = max(1, int(ttl_s * 1000))
        async with self._redis.pipeline(transaction=True) as pipe:
            if problems:
                pipe.zadd(key, {data: now_ms + ttl_ms for data in problems})
                pipe.pexpire(key, ttl_ms)  # the set lives as long as its newest problem
            pipe.zremrangebyscore(key, "-inf", now_ms)
            pipe.zcard(key)
            found = await self._call(pipe.execute())
        return int(found[-1])

    async def pop_problem(self) -> bytes | None:
        key = f"{self._p}pool:b"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", int(self._clock() * 1000))
            pipe.zpopmin(key, 1)
            _, popped = await self._call(pipe.execute())
        return bytes(popped[0][0]) if popped else None

    async def problem_depth(self) -> int:
        now_ms = int(self._clock() * 1000)
        return int(await self._call(self._redis.zcount(f"{self._p}pool:b", f"({now_ms}", "+inf")))

    # --- leases -----------------------------------------------------------------------------------------------
    async def hold_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        keys = [f"{self._p}lease:{name}"]
        return bool(await self._call(self._hold_lease(keys=keys, args=[owner, max(1, int(ttl_s * 1000))])))

    # --- operations -------------------------------------------------------------------------------------------
    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
