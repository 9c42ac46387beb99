"""Replay refusal: a movement shape that answered one session cannot answer another.

Every answered trace's shape key (:func:`tcurity.fingerprint.fingerprint`: the same for a trace re-sent exactly,
time-warped, or re-targeted onto another task) is claimed in the store for ``replay_window_s``, across every site.
A later answer from another session with the same key is refused ``replayed_trace`` before it is scored. The
session that claimed a key may send that trace again (its answer is re-opened when the AI server was down).
"""

from __future__ import annotations

from tcurity.fingerprint import fingerprint
from tcurity.traces import Trace
from web.backend.app.services.session import store_unavailable
from web.backend.app.store.base import Store, StoreUnavailableError

KEY_PREFIX = "shape:"


class ReplayGuard:
    """Claims trace shapes in the store (``consume_once``: atomic in both stores)."""

    def __init__(self, store: Store, window_s: float) -> None:
        self._store = store
        self._window_s = window_s

    async def replayed(self, trace: Trace, session_id: str) -> bool:
        """Whether another session answered with this trace's shape within the window (claims it if not)."""
        key = fingerprint(trace)
        if key is None:  # taps only: no shape to recognise
            return False
        try:
            owner = await self._store.consume_once(KEY_PREFIX + key, session_id, self._window_s)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        return owner is not None and owner != session_id
