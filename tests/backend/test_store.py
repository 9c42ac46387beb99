"""The store contract: the in-memory store and the Redis store pass the same tests.

Time is a :class:`StoreTime`: both stores take an injected clock, so what a store dates itself (replay profiles,
collected traces, the problem pool) expires by moving the clock, never by sleeping. Keys that Redis expires
itself (sessions, consume marks, results, token claims, leases) need Redis's own time to pass: only those tests
sleep, only on Redis, for under half a second each (the in-memory store's clock just moves).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.backend.conftest import Clock
from web.backend.app.store.base import Store, TraceToKeep
from web.backend.app.store.memory import MemoryStore
from web.backend.app.store.redis_store import RedisStore

Scenario = Callable[[Store], Awaitable[None]]
TimedScenario = Callable[[Store, "StoreTime"], Awaitable[None]]
QUOTA = 1 << 20


@pytest.fixture(params=["memory", "redis"])
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Scenario], None]]:
    """Runs a scenario against a fresh store of each kind (inside one event loop, as the app would)."""
    url = request.getfixturevalue("fresh_redis") if request.param == "redis" else None

    def go(scenario: Scenario) -> None:
        async def main() -> None:
            store: Store = RedisStore(url) if url else MemoryStore()
            try:
                await scenario(store)
            finally:
                await store.close()

        asyncio.run(main())

    yield go


@dataclass
class StoreTime:
    """Time as a store test moves it: ``clock`` is the store's own (injected) clock."""

    clock: Clock
    redis: bool  # keys Redis expires itself follow Redis's clock, which only real time moves

    def now(self) -> float:
        return self.clock()

    def advance(self, seconds: float) -> None:
        """Moves the store's clock: what the store dates itself (by score or in memory) expires, at once."""
        self.clock.advance(seconds)

    async def lapse(self, seconds: float) -> None:
        """Lets keys with a Redis TTL run out: the clock moves, and on Redis real time passes too."""
        self.clock.advance(seconds)
        if self.redis:
            await asyncio.sleep(seconds)


@pytest.fixture(params=["memory", "redis"])
def timed(request: pytest.FixtureRequest) -> Iterator[Callable[[TimedScenario], None]]:
    """Like ``run``, with a :class:`StoreTime` injected into the store as its clock."""
    url = request.getfixturevalue("fresh_redis") if request.param == "redis" else None

    def go(scenario: TimedScenario) -> None:
        clock = Clock()
        moves = StoreTime(clock, redis=url is not None)

        async def main() -> None:
            store: Store = RedisStore(url, clock=clock) if url else MemoryStore(clock=clock)
            try:
                await scenario(store, moves)
            finally:
                await store.close()

        asyncio.run(main())

    yield go


def test_sessions_are_created_once_and_replaced_by_compare_and_set(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        import time

        expires = time.time() + 60
        assert await store.create_session("s1", b"v0", expires)
        assert not await store.create_session("s1", b"other", expires)
        found = await store.get_session("s1")
        assert found is not None and (found.rev, found.data) == (0, b"v0")
        assert await store.replace_session("s1", b"v1", 0)
        assert not await store.replace_session("s1", b"stale", 0)
        found = await store.get_session("s1")
        assert found is not None and (found.rev, found.data) == (1, b"v1")
        assert await store.get_session("nope") is None
        assert not await store.replace_session("nope", b"x", 0)

    run(scenario)


def test_of_concurrent_replaces_exactly_one_wins(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        import time

        await store.create_session("s", b"v0", time.time() + 60)
        results = await asyncio.gather(*(store.replace_session("s", f"w{i}".encode(), 0) for i in range(20)))
        assert sum(results) == 1

    run(scenario)


def test_sessions_expire(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        await store.create_session("short", b"x", time.now() + 0.3)
        assert await store.get_session("short") is not None
        await time.lapse(0.45)
        assert await store.get_session("short") is None

    timed(scenario)


def test_consumption_happens_once_and_remembers_the_first_owner(
    timed: Callable[[TimedScenario], None],
) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        owners = await asyncio.gather(*(store.consume_once("jti-1", f"o{i}", 60) for i in range(10)))
        assert owners.count(None) == 1
        first = f"o{owners.index(None)}"
        assert all(o == first for o in owners if o is not None)
        assert await store.consume_once("jti-1", "late", 60) == first
        assert await store.consume_once("jti-2", "x", 0.2) is None
        await time.lapse(0.35)
        assert await store.consume_once("jti-2", "y", 60) is None

    timed(scenario)


def test_results_are_kept_for_their_ttl(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        await store.put_result("k", b"answer", 0.3)
        assert await store.get_result("k") == b"answer"
        assert await store.get_result("other") is None
        await time.lapse(0.45)
        assert await store.get_result("k") is None

    timed(scenario)


def test_rate_counters_count_within_a_window(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        decisions = [await store.hit("ip:1", 3, 60) for _ in range(5)]
        assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert all(1 <= d.retry_after_s <= 60 for d in decisions)
        peek = await store.window_count("ip:1", 60)
        assert (peek.count, peek.allowed) == (5, True)
        assert (await store.window_count("ip:2", 60)).count == 0
        concurrent = await asyncio.gather(*(store.hit("ip:3", 100, 60) for _ in range(30)))
        assert sorted(d.count for d in concurrent) == list(range(1, 31))

    run(scenario)


def test_collected_traces_take_labels_and_expire(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        await store.add_trace(TraceToKeep("site", "sess-1", "t1", b"a", 60), quota_bytes=QUOTA)
        await store.add_trace(TraceToKeep("site", "sess-1", "t2", b"b", 60), quota_bytes=QUOTA)
        await store.add_trace(TraceToKeep("site", "sess-2", "t3", b"c", 0.3), quota_bytes=QUOTA)
        await store.add_trace(TraceToKeep("other", "sess-1", "t4", b"d", 60), quota_bytes=QUOTA)
        assert await store.set_label("site", "sess-1", "confirmed_bot", 60) == 2
        assert await store.set_label("site", "unknown", "confirmed_bot", 60) == 0
        found = {t.trace_id: t for t in await store.traces("site")}
        assert set(found) == {"t1", "t2", "t3"}
        assert (found["t1"].label, found["t1"].session_id, found["t1"].data) == (
            "confirmed_bot",
            "sess-1",
            b"a",
        )
        assert found["t3"].label is None
        time.advance(0.45)
        assert {t.trace_id for t in await store.traces("site")} == {"t1", "t2"}
        assert await store.set_label("site", "sess-2", "confirmed_human", 60) == 0
        await store.purge_expired()
        assert {t.trace_id for t in await store.traces("other")} == {"t4"}
        assert await store.ping()

    timed(scenario)


def test_a_label_never_covers_a_refused_trace(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.add_trace(TraceToKeep("site", "s", "failed", b"bot", 60, refused=True), quota_bytes=QUOTA)
        await store.add_trace(TraceToKeep("site", "s", "passed", b"person", 60), quota_bytes=QUOTA)
        await store.add_trace(
            TraceToKeep("site", "only-failed", "f2", b"bot", 60, refused=True), quota_bytes=QUOTA
        )
        assert await store.set_label("site", "s", "confirmed_human", 60) == 1
        assert await store.set_label("site", "only-failed", "confirmed_human", 60) == 0
        found = {t.trace_id: (t.label, t.refused) for t in await store.traces("site")}
        assert found == {
            "failed": (None, True),
            "passed": ("confirmed_human", False),
            "f2": (None, True),
        }

    run(scenario)


def test_profile_indexes_keep_their_newest_entries_in_order(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        seqs = [
            await store.add_profile("perforation:1", f"s{i}", bytes([i, 124, 0]), 60, 3) for i in range(5)
        ]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        other = await store.add_profile("grid:2", "t", b"x", 60, 3)
        assert other > seqs[-1]  # one order across every index
        kept = await store.profiles("perforation:1")
        assert [(p.seq, p.owner, p.data) for p in kept] == [
            (seqs[i], f"s{i}", bytes([i, 124, 0])) for i in (2, 3, 4)
        ]
        assert await store.profiles("grid:3") == []
        await store.add_profile("short", "u", b"y", 0.05, 3)
        time.advance(0.2)
        assert await store.profiles("short") == []

    timed(scenario)


def test_a_profile_entry_and_a_consume_mark_can_be_taken_back(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        first = await store.add_profile("perforation:1", "a", b"1", 60, 10)
        second = await store.add_profile("perforation:1", "b", b"2", 60, 10)
        await store.remove_profile("perforation:1", first)
        await store.remove_profile("perforation:1", first)  # gone already: nothing happens
        assert [(p.seq, p.owner) for p in await store.profiles("perforation:1")] == [(second, "b")]
        assert await store.consume_once("shape:k", "a", 60) is None
        await store.release("shape:k", "b")  # not b's: a's mark stays
        assert await store.consume_once("shape:k", "c", 60) == "a"
        await store.release("shape:k", "a")
        assert await store.consume_once("shape:k", "c", 60) is None

    run(scenario)


def test_token_claims_are_kept_for_their_ttl_apart_from_the_consume_marker(
    timed: Callable[[TimedScenario], None],
) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        await store.put_token_claims("jti-1", b"claims", 60)
        await store.put_token_claims("jti-2", b"short", 0.3)
        assert await store.get_token_claims("jti-1") == b"claims"
        assert await store.get_token_claims("unknown") is None
        assert await store.consume_once("tok:jti-1", "owner", 60) is None  # verify's marker: another key
        assert await store.get_token_claims("jti-1") == b"claims"
        await store.put_result("tok:jti-1", b"a kept answer", 60)
        assert await store.get_token_claims("jti-1") == b"claims"
        await time.lapse(0.45)
        assert await store.get_token_claims("jti-2") is None
        assert await store.get_token_claims("jti-1") == b"claims"

    timed(scenario)


def test_a_sites_quota_holds_its_live_bytes(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        assert await store.add_trace(TraceToKeep("site", "s1", "short", b"x" * 6, 0.3), quota_bytes=10)
        assert not await store.add_trace(TraceToKeep("site", "s2", "over", b"y" * 6, 60), quota_bytes=10)
        assert await store.add_trace(TraceToKeep("site", "s3", "fits", b"z" * 4, 60), quota_bytes=10)
        assert await store.add_trace(TraceToKeep("other", "s4", "own-quota", b"w" * 10, 60), quota_bytes=10)
        assert {t.trace_id for t in await store.traces("site")} == {"short", "fits"}
        time.advance(0.45)  # the expired trace's bytes come back to the quota
        assert await store.add_trace(TraceToKeep("site", "s5", "again", b"v" * 6, 60), quota_bytes=10)
        assert not await store.add_trace(TraceToKeep("site", "s6", "full", b"u", 60), quota_bytes=10)
        assert {t.trace_id for t in await store.traces("site")} == {"fits", "again"}

    timed(scenario)


def test_the_memory_store_frees_expired_data_while_running() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        await store.create_session("s", b"session", clock() + 60)
        await store.consume_once("jti", "owner", 120)
        await store.put_result("idem", b"answer", 60)
        await store.hit("ip:1", 10, 60)
        await store.add_trace(TraceToKeep("site", "s", "t", b"trace", 600), quota_bytes=QUOTA)
        assert await store.set_label("site", "s", "confirmed_human", 600) == 1
        assert store.footprint() == {"entries": 4, "traces": 1, "labels": 1, "trace_bytes": 5}
        clock.advance(3600)
        await store.create_session("next", b"session", clock() + 60)  # a normal write, no purge
        assert store.footprint() == {"entries": 1, "traces": 0, "labels": 0, "trace_bytes": 0}
        assert await store.add_trace(
            TraceToKeep("site", "n", "t2", b"x" * 5, 600), quota_bytes=5
        )  # its bytes came back

    asyncio.run(scenario())


def problem(i: int) -> bytes:
    return f'{{"problem":{i}}}'.encode()


def test_a_pooled_problem_is_served_once_first_to_expire_first(
    timed: Callable[[TimedScenario], None],
) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        assert await store.push_problems([problem(0), problem(1)], 60) == 2
        time.advance(0.05)
        assert await store.push_problems([problem(2)], 60) == 3
        assert await store.problem_depth() == 3
        assert [await store.pop_problem() for _ in range(4)] == [problem(0), problem(1), problem(2), None]
        assert await store.problem_depth() == 0
        assert await store.push_problems([], 60) == 0

    timed(scenario)


def test_pooled_problems_expire_unserved(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        await store.push_problems([problem(0), problem(1)], 0.3)
        await store.push_problems([problem(2)], 60)
        assert await store.problem_depth() == 3
        time.advance(0.45)
        assert await store.problem_depth() == 1
        assert await store.pop_problem() == problem(2)
        assert await store.pop_problem() is None

    timed(scenario)


def test_concurrent_pops_never_give_the_same_problem_twice(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.push_problems([problem(i) for i in range(100)], 60)
        popped = await asyncio.gather(*(store.pop_problem() for _ in range(150)))
        served = [p for p in popped if p is not None]
        assert sorted(served) == sorted(problem(i) for i in range(100))
        assert popped.count(None) == 50

    run(scenario)


def test_replicas_popping_one_redis_pool_at_once_never_share_a_problem(fresh_redis: str) -> None:
    """Four stores in four threads (as four backend replicas would be) drain one pool of 400 problems."""
    asyncio.run(_push(fresh_redis, [problem(i) for i in range(400)]))

    def drain(_: int) -> list[bytes]:
        async def go() -> list[bytes]:
            store = RedisStore(fresh_redis, timeout_s=10.0)  # four busy threads on a shared 2-core machine
            try:
                found = await asyncio.gather(*(store.pop_problem() for _ in range(150)))
                return [p for p in found if p is not None]
            finally:
                await store.close()

        return asyncio.run(go())

    with ThreadPoolExecutor(max_workers=4) as threads:
        served = [p for batch in threads.map(drain, range(4)) for p in batch]
    assert len(served) == 400
    assert sorted(served) == sorted(problem(i) for i in range(400))


async def _push(url: str, problems: list[bytes]) -> None:
    store = RedisStore(url)
    try:
        await store.push_problems(problems, 60)
    finally:
        await store.close()


def test_a_lease_has_one_holder_until_it_lapses(timed: Callable[[TimedScenario], None]) -> None:
    async def scenario(store: Store, time: StoreTime) -> None:
        assert await store.hold_lease("filler", "a", 0.3)
        assert not await store.hold_lease("filler", "b", 0.3)
        assert await store.hold_lease("filler", "a", 0.3)  # its holder renews it
        assert await store.hold_lease("other", "b", 0.3)  # leases are independent
        await time.lapse(0.45)
        assert await store.hold_lease("filler", "b", 0.3)
        assert not await store.hold_lease("filler", "a", 0.3)

    timed(scenario)
