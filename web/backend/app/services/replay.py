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
it again (its answer is re-opened when the AI server was down). An answer that does not pass (refused here, by
geometry, by the models or by the site's policy) takes its marks back, so only passing answers stay in the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcurity.fingerprint import fingerprint, nearest_distance, profile_index, profile_threshold
from tcurity.fingerprint import replay_profile as profile_of
from tcurity.traces import Trace
from web.backend.app.services.session import store_unavailable
from web.backend.app.store.base import Store, StoreUnavailableError

KEY_PREFIX = "shape:"
# Entries per index: 4,096 Phase A profiles are 512 KiB (float16), read once per answer.
MAX_PROFILES = 4096


@dataclass(frozen=True, slots=True)
class ReplayCheck:
    """What one check found and recorded: whether the answer is a replay, and the marks it left in the store (the
    exact key it claimed, its profile's index entry) so that :meth:`ReplayGuard.forget` can take them back."""

    replayed: bool
    key: str | None = None
    index: str | None = None
    seq: int | None = None


class ReplayGuard:
    """Claims trace shapes in the store and compares profiles with the recent ones.

    Only answers that passed keep their marks: a failed answer's are taken back (:meth:`forget`), so an attacker
    cannot push the people's profiles out of a bounded index with answers that cost nothing (junk tears refused
    by geometry or the models). Flushing the index then takes :data:`MAX_PROFILES` passing answers.
    """

    def __init__(self, store: Store, window_s: float, max_profiles: int = MAX_PROFILES) -> None:
        self._store = store
        self._window_s = window_s
        self._max_profiles = max_profiles

    async def check(self, trace: Trace, session_id: str) -> ReplayCheck:
        """Whether another session answered with this trace's shape, or one within the profile threshold,
        within the window; records this one either way (added first, then compared, which orders two
        concurrent copies by the store's sequence)."""
        try:
            key, exact = await self._exact(trace, session_id)
            index, seq, near = await self._near(trace, session_id)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        return ReplayCheck(exact or near, key, index, seq)

    async def forget(self, check: ReplayCheck, session_id: str) -> None:
        """Takes back the marks of an answer that did not pass (another session's claim on the key stays)."""
        try:
            if check.key is not None:
                await self._store.release(KEY_PREFIX + check.key, session_id)
            if check.index is not None and check.seq is not None:
                await self._store.remove_profile(check.index, check.seq)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc

    async def _exact(self, trace: Trace, session_id: str) -> tuple[str | None, bool]:
        key = fingerprint(trace)
        if key is None:  # taps only: no shape to recognise
            return None, False
        owner = await self._store.consume_once(KEY_PREFIX + key, session_id, self._window_s)
        return key, owner is not None and owner != session_id

    async def _near(self, trace: Trace, session_id: str) -> tuple[str | None, int | None, bool]:
        profile = profile_of(trace)
        if profile is None:
            return None, None, False
        index = profile_index(trace, profile)
        if index is None:  # not one press per tear or slot: refused by the answer's own checks
            return None, None, False
        data = profile.astype(np.float16).tobytes()
        seq = await self._store.add_profile(index, session_id, data, self._window_s, self._max_profiles)
        earlier = [p.data for p in await self._store.profiles(index) if p.seq < seq and p.owner != session_id]
        if not earlier:
            return index, seq, False
        others = np.frombuffer(b"".join(earlier), dtype=np.float16).reshape(-1, *profile.shape)
        near = nearest_distance(profile, others.astype(np.float32)) <= profile_threshold(trace.task)
        return index, seq, bool(near)
