"""The embedded store: everything in this process's memory, with expiry.

One lock guards all state, so each method is atomic across threads and tasks (no method awaits while holding
it). Expired entries are dropped lazily on access and swept in expiry order (heaps) on every write: sessions,
markers, results and counters as well as collected traces and labels, so memory stays bounded by what is live
while the process runs (a sweep costs O(log n) per expired entry, paid once). Suits one backend process; use
Redis to share state between processes.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from web.backend.app.store.base import (
    RateDecision,
    Store,
    StoredProfile,
    StoredTrace,
    TraceToKeep,
    Versioned,
    window_index,
)


@dataclass(slots=True)
class _Entry:
    expires_s: float
    value: object


@dataclass(slots=True)
class _SiteTraces:
    traces: dict[str, StoredTrace] = field(default_factory=dict)
    labels: dict[str, _Entry] = field(default_factory=dict)
    bytes_used: int = 0


class MemoryStore(Store):
    """The in-process :class:`Store`; ``clock`` (Unix seconds) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, _Entry] = {}
        self._expiry: list[tuple[float, str]] = []
        self._sites: dict[str, _SiteTraces] = {}
        self._profiles: dict[str, deque[tuple[float, StoredProfile]]] = {}
        self._profile_seq = 0
        # (expires, sitekey, "t" trace | "l" label, trace id | session id), swept like ``_expiry``.
        self._collected: list[tuple[float, str, str, str]] = []
        # Ready Phase B problems: (expires, order of addition, bytes), the first to expire on top.
        self._problems: list[tuple[float, int, bytes]] = []
        self._problem_seq = 0
        self._leases: dict[str, tuple[str, float]] = {}

    # --- internals (call with the lock held) ------------------------------------------------------------------
    def _get(self, key: str, now: float) -> _Entry | None:
        entry = self._items.get(key)
        if entry is not None and entry.expires_s <= now:
            del self._items[key]
            return None
        return entry

    def _put(self, key: str, value: object, expires_s: float) -> None:
        self._items[key] = _Entry(expires_s, value)
        heapq.heappush(self._expiry, (expires_s, key))

    def _sweep(self, now: float) -> int:
        """Drops what expired by ``now``; returns how many collected traces went."""
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            entry = self._items.get(key)
            if entry is not None and entry.expires_s <= now:
                del self._items[key]
        return self._sweep_collected(now)

    def _sweep_collected(self, now: float) -> int:
        """Frees expired traces (and their bytes of the quota) and labels; returns how many traces went."""
        removed = 0
        while self._collected and self._collected[0][0] <= now:
            _, sitekey, kind, name = heapq.heappop(self._collected)
            site = self._sites.get(sitekey)
            if site is None:
                continue
            if kind == "t":
                trace = site.traces.get(name)
                if trace is not None and trace.expires_s <= now:
                    del site.traces[name]
                    site.bytes_used -= len(trace.data)
                    removed += 1
            else:
                label = site.labels.get(name)
                if label is not None and label.expires_s <= now:
                    del site.labels[name]
            if not site.traces and not site.labels:
                del self._sites[sitekey]
        return removed

    # --- sessions ---------------------------------------------------------------------------------------------
    async def create_session(self, session_id: str, data: bytes, expires_at_s: float) -> bool:
        key = f"s:{session_id}"
        with self._lock:
            now = self._clock()
            self._sweep(now)
            if self._get(key, now) is not None:
                return False
            self._put(key, Versioned(0, data), expires_at_s)
            return True

    async def get_session(self, session_id: str) -> Versioned | None:
        with self._lock:
            entry = self._get(f"s:{session_id}", self._clock())
            return entry.value if entry is not None else None  # type: ignore[return-value]

    async def replace_session(self, session_id: str, data: bytes, expected_rev: int) -> bool:
        with self._lock:
            entry = self._get(f"s:{session_id}", self._clock())
            if entry is None or not isinstance(entry.value, Versioned) or entry.value.rev != expected_rev:
                return False
            entry.value = Versioned(expected_rev + 1, data)
            return True

    # --- one-time consumption ---------------------------------------------------------------------------------
    async def consume_once(self, key: str, owner: str, ttl_s: float) -> str | None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            entry = self._get(f"c:{key}", now)
            if entry is not None:
                return str(entry.value)
            self._put(f"c:{key}", owner, now + ttl_s)
            return None

    # --- replay-profile indexes -------------------------------------------------------------------------------
    async def add_profile(self, index: str, owner: str, data: bytes, ttl_s: float, max_entries: int) -> int:
        with self._lock:
            self._profile_seq += 1
            entries = self._profiles.setdefault(index, deque())
            entries.append((self._clock() + ttl_s, StoredProfile(self._profile_seq, owner, data)))
            while len(entries) > max_entries:
                entries.popleft()
            return self._profile_seq

    async def profiles(self, index: str) -> list[StoredProfile]:
        with self._lock:
            now = self._clock()
            entries = self._profiles.get(index, deque())
            while entries and entries[0][0] <= now:  # same TTL for all: the oldest expire first
                entries.popleft()
            return [entry for _, entry in entries]

    async def remove_profile(self, index: str, seq: int) -> None:
        with self._lock:
            entries = self._profiles.get(index)
            if entries:
                kept = [e for e in entries if e[1].seq != seq]
                if len(kept) != len(entries):
                    self._profiles[index] = deque(kept)

    async def release(self, key: str, owner: str) -> None:
        with self._lock:
            entry = self._get(f"c:{key}", self._clock())
            if entry is not None and entry.value == owner:
                del self._items[f"c:{key}"]  # its heap entry finds nothing when it comes due

    # --- idempotent results -----------------------------------------------------------------------------------
    async def put_result(self, key: str, data: bytes, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            self._put(f"r:{key}", data, now + ttl_s)

    async def get_result(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._get(f"r:{key}", self._clock())
            return entry.value if entry is not None else None  # type: ignore[return-value]

    # --- rate limits ------------------------------------------------------------------------------------------
    async def hit(self, key: str, limit: int, window_s: int) -> RateDecision:
        with self._lock:
            now = self._clock()
            index, retry = window_index(now, window_s)
            name = f"rl:{key}:{index}"
            entry = self._get(name, now)
            count = (int(entry.value) if entry is not None else 0) + 1  # type: ignore[call-overload]
            if entry is None:
                self._sweep(now)
                self._put(name, count, (index + 1) * window_s)
            else:
                entry.value = count
            return RateDecision(count <= limit, count, retry)

    async def window_count(self, key: str, window_s: int) -> RateDecision:
        with self._lock:
            now = self._clock()
            index, retry = window_index(now, window_s)
            entry = self._get(f"rl:{key}:{index}", now)
            count = int(entry.value) if entry is not None else 0  # type: ignore[call-overload]
            return RateDecision(True, count, retry)

    # --- collected traces -------------------------------------------------------------------------------------
    async def add_trace(self, trace: TraceToKeep, *, quota_bytes: int) -> bool:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            site = self._sites.setdefault(trace.sitekey, _SiteTraces())
            if site.bytes_used + len(trace.data) > quota_bytes:
                return False
            expires = now + trace.ttl_s
            site.traces[trace.trace_id] = StoredTrace(
                trace.trace_id, trace.session_id, expires, trace.data, None, trace.refused
            )
            site.bytes_used += len(trace.data)
            heapq.heappush(self._collected, (expires, trace.sitekey, "t", trace.trace_id))
            return True

    async def set_label(self, sitekey: str, session_id: str, label: str, ttl_s: float) -> int:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            site = self._sites.get(sitekey)
            if site is None:
                return 0
            count = sum(
                t.session_id == session_id and not t.refused and t.expires_s > now
                for t in site.traces.values()
            )
            if count:
                site.labels[session_id] = _Entry(now + ttl_s, label)
                heapq.heappush(self._collected, (now + ttl_s, sitekey, "l", session_id))
            return count

    async def traces(self, sitekey: str) -> list[StoredTrace]:
        with self._lock:
            now = self._clock()
            site = self._sites.get(sitekey)
            if site is None:
                return []
            out = []
            for t in sorted(site.traces.values(), key=lambda t: t.expires_s):
                if t.expires_s > now:
                    entry = None if t.refused else site.labels.get(t.session_id)
                    label = str(entry.value) if entry is not None and entry.expires_s > now else None
                    out.append(StoredTrace(t.trace_id, t.session_id, t.expires_s, t.data, label, t.refused))
            return out

    async def purge_expired(self) -> int:
        with self._lock:
            now = self._clock()
            return self._sweep(now)  # every write sweeps too: this frees only what expired since the last one

    def footprint(self) -> dict[str, int]:
        """What the store holds now, expired or not yet swept: keyed entries (sessions, markers, results,
        counters), collected traces, labels and the traces' bytes."""
        with self._lock:
            sites = list(self._sites.values())
            return {
                "entries": len(self._items),
                "traces": sum(len(s.traces) for s in sites),
                "labels": sum(len(s.labels) for s in sites),
                "trace_bytes": sum(s.bytes_used for s in sites),
            }

    # --- pass-token claims ------------------------------------------------------------------------------------
    async def put_token_claims(self, jti: str, data: bytes, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            self._put(f"tok:{jti}", data, now + ttl_s)

    async def get_token_claims(self, jti: str) -> bytes | None:
        with self._lock:
            entry = self._get(f"tok:{jti}", self._clock())
            return entry.value if entry is not None else None  # type: ignore[return-value]

    # --- the Phase B problem pool ------------------------------------------------------------------------------
    def _drop_expired_problems(self, now: float) -> None:
        while self._problems and self._problems[0][0] <= now:
            heapq.heappop(self._problems)

    async def push_problems(self, problems: list[bytes], ttl_s: float) -> int:
        with self._lock:
            now = self._clock()
            self._drop_expired_problems(now)
            for data in problems:
                self._problem_seq += 1
                heapq.heappush(self._problems, (now + ttl_s, self._problem_seq, data))
            return len(self._problems)

    async def pop_problem(self) -> bytes | None:
        with self._lock:
            self._drop_expired_problems(self._clock())
            return heapq.heappop(self._problems)[2] if self._problems else None

    async def problem_depth(self) -> int:
        with self._lock:
            self._drop_expired_problems(self._clock())
            return len(self._problems)

    # --- leases -----------------------------------------------------------------------------------------------
    async def hold_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        with self._lock:
            now = self._clock()
            holder = self._leases.get(name)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            self._leases[name] = (owner, now + ttl_s)
            return True

    # --- operations -------------------------------------------------------------------------------------------
    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
