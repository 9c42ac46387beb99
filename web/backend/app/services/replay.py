"""Replay refusal: a movement that answered one session cannot answer another, exactly or with noise added.

Two checks, both across every site and backend replica (the store holds them):

1. **Exact shape key** (:func:`tcurity.fingerprint.fingerprint`: the same for a trace re-sent exactly,
   time-warped, or re-targeted onto another task), claimed for ``replay_window_s``; unbounded, one key each.
2. **Nearest neighbour** on the replay profile (:func:`tcurity.fingerprint.replay_profile`: each press as 32
   means of its events in its own frame). Every answered profile joins an index per phase and press count
   (``perforation:1``, ``grid:3`` …) that keeps its newest :data:`MAX_PROFILES` entries for ``replay_window_s``;
   an answer whose profile lies within :data:`tcurity.fingerprint.PROFILE_THRESHOLDS` of one that another
   session added *earlier* is a replay. Adding first and then reading orders two concurrent answers by the
   store's sequence, so of two copies sent at once the later one is refused.

Either way the answer is refused ``replayed_trace`` before it is scored. The session that sent a shape may send
it again (its answer is re-opened when the AI server was down).
"""

from __future__ import annotations

import numpy as np

from tcurity.fingerprint import fingerprint, nearest_distance, profile_index, profile_threshold
from tcurity.fingerprint import replay_profile as profile_of
from tcurity.traces import Trace
from web.backend.app.services.session import store_unavailable
from web.backend.app.store.base import Store, StoreUnavailableError

KEY_PREFIX = "shape:"
# Entries per index: 4,096 Phase A profiles are 512 KiB (float16), read once per answer.
MAX_PROFILES = 4096


class ReplayGuard:
    """Claims trace shapes in the store and compares profiles with the recent ones."""

    def __init__(self, store: Store, window_s: float, max_profiles: int = MAX_PROFILES) -> None:
        self._store = store
        self._window_s = window_s
        self._max_profiles = max_profiles

    async def replayed(self, trace: Trace, session_id: str) -> bool:
        """Whether another session answered with this trace's shape, or one within the profile threshold,
        within the window (records this one either way)."""
        try:
            return await self._exact(trace, session_id) | await self._near(trace, session_id)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc

    async def _exact(self, trace: Trace, session_id: str) -> bool:
        key = fingerprint(trace)
        if key is None:  # taps only: no shape to recognise
            return False
        owner = await self._store.consume_once(KEY_PREFIX + key, session_id, self._window_s)
        return owner is not None and owner != session_id

    async def _near(self, trace: Trace, session_id: str) -> bool:
        profile = profile_of(trace)
        if profile is None:
            return False
        index = profile_index(trace, profile)
        if index is None:  # not one press per tear or slot: refused by the answer's own checks
            return False
        data = profile.astype(np.float16).tobytes()
        seq = await self._store.add_profile(index, session_id, data, self._window_s, self._max_profiles)
        earlier = [p.data for p in await self._store.profiles(index) if p.seq < seq and p.owner != session_id]
        if not earlier:
            return False
        others = np.frombuffer(b"".join(earlier), dtype=np.float16).reshape(-1, *profile.shape)
        return nearest_distance(profile, others.astype(np.float32)) <= profile_threshold(trace.task)
