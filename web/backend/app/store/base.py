"""The store's contract: what the backend keeps between requests, and what every store must guarantee.

Two stores implement it: :class:`~web.backend.app.store.memory.MemoryStore` (one process, the default) and
:class:`~web.backend.app.store.redis_store.RedisStore` (shared by every backend instance). Both pass the same
contract tests (``tests/backend/test_store.py``). Values are opaque bytes; the services own their format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Versioned:
    """A session's bytes and its revision (incremented by every successful replace)."""

    rev: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RateDecision:
    """A rate-limit counter after a hit: whether the hit is within ``limit``, and when the window ends."""

    allowed: bool
    count: int
    retry_after_s: int


@dataclass(frozen=True, slots=True)
class TraceToKeep:
    """A collected trace handed to the store: the site and session it belongs to, its id and bytes, how long it
    is kept (``ttl_s``), and whether the model refused it (``refused``: quarantined, never labelled)."""

    sitekey: str
    session_id: str
    trace_id: str
    data: bytes
    ttl_s: float
    refused: bool = False


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """A collected trace as stored, with the site's label for its session (``None`` until reported).

    ``refused`` marks a trace the model refused: it is quarantined and never takes its session's label.
    """

    trace_id: str
    session_id: str
    expires_s: float
    data: bytes
    label: str | None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """One entry of a replay-profile index: its place in the order of additions, who added it, its bytes."""

    seq: int
    owner: str
    data: bytes


class StoreUnavailableError(RuntimeError):
    """The store cannot be reached (the routes answer ``store_unavailable``)."""


class Store(ABC):
    """Sessions (compare-and-set), one-time consumption, idempotent results, rate counters, collected traces,
    pass-token claims, the pool of ready Phase B problems and named leases.

    Every method is atomic on its own; expiry times are absolute Unix seconds or TTLs in seconds.
    """

    # --- sessions -------------------------------------------------------------------------------------------
    @abstractmethod
    async def create_session(self, session_id: str, data: bytes, expires_at_s: float) -> bool:
        """Stores a new session at revision 0; ``False`` when the id exists already."""

    @abstractmethod
    async def get_session(self, session_id: str) -> Versioned | None:
        """The session, or ``None`` when unknown or expired."""

    @abstractmethod
    async def replace_session(self, session_id: str, data: bytes, expected_rev: int) -> bool:
        """Replaces the session only if it is still at ``expected_rev`` (its expiry is kept); else ``False``."""

    # --- one-time consumption ---------------------------------------------------------------------------------
    @abstractmethod
    async def consume_once(self, key: str, owner: str, ttl_s: float) -> str | None:
        """Marks ``key`` consumed by ``owner``. ``None`` for the first consumer; later calls get the first
        consumer's ``owner`` (``""`` if that record expired meanwhile)."""

    # --- replay-profile indexes -------------------------------------------------------------------------------
    @abstractmethod
    async def add_profile(self, index: str, owner: str, data: bytes, ttl_s: float, max_entries: int) -> int:
        """Adds an entry to ``index`` and returns its sequence number (increasing across every index). The
        index keeps its newest ``max_entries`` entries, each for ``ttl_s``."""

    @abstractmethod
    async def profiles(self, index: str) -> list[StoredProfile]:
        """The live entries of ``index``, oldest first."""

    @abstractmethod
    async def remove_profile(self, index: str, seq: int) -> None:
        """Drops the entry numbered ``seq`` from ``index`` (nothing when it is gone already)."""

    @abstractmethod
    async def release(self, key: str, owner: str) -> None:
        """Undoes :meth:`consume_once` for ``key`` when ``owner`` holds it (another owner's mark stays)."""

    # --- idempotent results -----------------------------------------------------------------------------------
    @abstractmethod
    async def put_result(self, key: str, data: bytes, ttl_s: float) -> None:
        """Keeps an answer for retries."""

    @abstractmethod
    async def get_result(self, key: str) -> bytes | None:
        """A kept answer, or ``None``."""

    # --- rate limits ------------------------------------------------------------------------------------------
    @abstractmethod
    async def hit(self, key: str, limit: int, window_s: int) -> RateDecision:
        """Counts one request in ``key``'s current fixed window."""

    @abstractmethod
    async def window_count(self, key: str, window_s: int) -> RateDecision:
        """The current window's count without counting (``allowed`` is ``True``; the caller compares)."""

    # --- collected traces -------------------------------------------------------------------------------------
    @abstractmethod
    async def add_trace(self, trace: TraceToKeep, *, quota_bytes: int) -> bool:
        """Keeps ``trace`` until its retention ends, if the site's live traces and this one stay within
        ``quota_bytes``; ``False`` (nothing kept) past the quota. Expired traces are freed first."""

    @abstractmethod
    async def set_label(self, sitekey: str, session_id: str, label: str, ttl_s: float) -> int:
        """Attaches the site's label to a session's traces that are not ``refused``; returns how many it covers
        (0: no such trace kept, and no label is stored)."""

    @abstractmethod
    async def traces(self, sitekey: str) -> list[StoredTrace]:
        """The site's unexpired traces with their labels (``None`` on a refused trace), oldest expiry first."""

    @abstractmethod
    async def purge_expired(self) -> int:
        """Deletes what expired (where the store does not do it by itself); returns how many traces went."""

    # --- pass-token claims ------------------------------------------------------------------------------------
    @abstractmethod
    async def put_token_claims(self, jti: str, data: bytes, ttl_s: float) -> None:
        """Keeps a pass token's claims under ``tok:{jti}`` (the browser holds only the opaque token)."""

    @abstractmethod
    async def get_token_claims(self, jti: str) -> bytes | None:
        """A pass token's claims, or ``None`` when unknown or expired."""

    # --- the Phase B problem pool ------------------------------------------------------------------------------
    @abstractmethod
    async def push_problems(self, problems: list[bytes], ttl_s: float) -> int:
        """Adds ready problems (each distinct), each to expire ``ttl_s`` from now; returns the live depth after."""

    @abstractmethod
    async def pop_problem(self) -> bytes | None:
        """Takes the live problem that expires first, atomically: no two callers ever get the same one, and a
        taken problem is gone. ``None`` when no live problem is left."""

    @abstractmethod
    async def problem_depth(self) -> int:
        """How many live (unexpired) problems the pool holds."""

    # --- leases -----------------------------------------------------------------------------------------------
    @abstractmethod
    async def hold_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Takes the lease ``name`` for ``owner``, or renews it when ``owner`` holds it already, for ``ttl_s``;
        ``False`` while another owner holds it (a lease lapses when its holder stops renewing it)."""

    # --- operations -------------------------------------------------------------------------------------------
    @abstractmethod
    async def ping(self) -> bool:
        """Whether the store answers."""

    @abstractmethod
    async def close(self) -> None:
        """Releases connections."""


def window_index(now_s: float, window_s: int) -> tuple[int, int]:
    """The fixed window ``now_s`` falls in, and the whole seconds left in it (at least 1)."""
    index = int(now_s // window_s)
    retry = max(1, int((index + 1) * window_s - now_s + 0.999))
    return index, retry
