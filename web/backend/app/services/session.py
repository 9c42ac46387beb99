"""A challenge session as the store keeps it, and its compare-and-set persistence.

The record holds what the server must remember between requests: the site, hostname and action it was
created for, its state, the task it issued last (with the Phase B answer, which never leaves the server), the
attempts used, the per-phase results, the reason codes of failed attempts, and the network and user-agent
digest of the client that answered last (a pass binds them into its claims).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tcurity.traces import TaskGeometry
from web.backend.app.core.errors import ApiError
from web.backend.app.schemas.challenge import PhaseName, State
from web.backend.app.store.base import Store, StoreUnavailableError

MAX_REASONS = 8


class OpenTask(BaseModel):
    """The task issued last, until it is answered or replaced."""

    model_config = ConfigDict(extra="forbid")
    phase: PhaseName
    issued_ms: int
    deadline_ms: int
    task: TaskGeometry
    answer: list[str] | None = None  # Phase B: tile ids in order (server side only)
    tile_cells: dict[str, int] | None = None  # Phase B: each tile's grid cell, to bind the drags to the tiles
    problem_model: str | None = None


class PhaseResult(BaseModel):
    """How a phase was passed: the deciding model's score and threshold, or ``unscored`` (fail-open)."""

    model_config = ConfigDict(extra="forbid")
    score: float | None = None
    threshold: float | None = None
    model: str | None = None
    unscored: bool = False


class SessionRecord(BaseModel):
    """One challenge session."""

    model_config = ConfigDict(extra="forbid")
    session_id: str
    sitekey: str
    hostname: str
    action: str
    state: State
    created_ms: int
    expires_ms: int
    attempts: dict[str, int] = Field(default_factory=lambda: {"phase_a": 0, "phase_b": 0})
    open_task: OpenTask | None = None
    results: dict[str, PhaseResult] = {}
    reasons: Annotated[list[str], Field(max_length=MAX_REASONS)] = []
    client_net: str | None = None  # the network of the client that created the session (/24 or /64)
    client_ua: str | None = None  # the keyed digest of its User-Agent
    client_bound: bool = False  # the two above were set (at create; a session from an older release: later)
    client_moved: list[
        str
    ] = []  # what of the client changed since (``ip``, ``user_agent``): review finding 5
    escalated: bool = False  # an integrity reason asked one more Phase B round (policy ``escalate``)
    phase_b_passes: int = 0  # Phase B rounds passed so far

    def add_reasons(self, reasons: list[str]) -> None:
        """Keeps the first few distinct reason codes of the session (they go into the pass's claims)."""
        for reason in reasons:
            if reason not in self.reasons and len(self.reasons) < MAX_REASONS:
                self.reasons.append(reason)


def ref(session_id: str) -> str:
    """A short, non-reversible reference to a session for logs (the id itself is a capability)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


class SessionRepo:
    """Loads and saves session records with compare-and-set, mapping store failures onto API errors."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, record: SessionRecord) -> None:
        try:
            created = await self._store.create_session(
                record.session_id, record.model_dump_json().encode(), record.expires_ms / 1000.0
            )
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        if not created:
            raise ApiError(409, "conflict", "session id collision; start again")

    async def load(self, session_id: str) -> tuple[int, SessionRecord]:
        """The record and its revision.

        Raises:
            ApiError: 404 ``session_not_found`` for an unknown or expired session.
        """
        try:
            found = await self._store.get_session(session_id)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        if found is None:
            raise ApiError(404, "session_not_found", "unknown or expired challenge session")
        return found.rev, SessionRecord.model_validate_json(found.data)

    async def save(self, record: SessionRecord, rev: int) -> int:
        """Saves over revision ``rev``; returns the new revision.

        Raises:
            ApiError: 409 ``conflict`` when another request changed the session first.
        """
        try:
            saved = await self._store.replace_session(
                record.session_id, record.model_dump_json().encode(), rev
            )
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        if not saved:
            raise ApiError(409, "conflict", "the session changed meanwhile; only one answer counts")
        return rev + 1


def store_unavailable() -> ApiError:
    return ApiError(503, "store_unavailable", "the session store is unreachable; retry later")
