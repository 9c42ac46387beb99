"""The Phase B pool's filler, run as the backend runs it (a lifespan task) on a real Redis, with problems from the
real generator behind the AI server's contract double."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
import redis

from tests.backend.conftest import Backend, backend_settings
from web.backend.app.core.errors import ApiError
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.filler import run_filler
from web.backend.app.services.problem_pool import PooledProblem, ProblemPool
from web.backend.app.store.memory import MemoryStore

PROBLEMS = "/v1/phase-b/problems"
# A background filler per app: a hang (one was seen once, not reproduced) fails with every thread's stack.
pytestmark = pytest.mark.timeout(120, method="thread")


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def filling_backend(make_backend, redis_url: str) -> Backend:
    backend: Backend = make_backend(
        redis_url=redis_url, problem_pool_filler=True, problem_pool_depth=6, problem_pool_batch=4
    )
    return backend


def take(backend: Backend) -> PooledProblem:
    pool = backend.client.app.state.services.pool  # type: ignore[attr-defined]
    taken: PooledProblem = backend.client.portal.call(pool.take)  # type: ignore[union-attr]
    return taken


def test_the_filler_fills_to_depth_in_batches_and_pauses_when_full(make_backend, fresh_redis: str) -> None:
    backend = filling_backend(make_backend, fresh_redis)
    wait_for(lambda: backend.pool_depth() == 6)
    assert backend.ai.calls[PROBLEMS] == 2  # a batch of 4, then the 2 missing
    time.sleep(1.0)  # four turns of a full pool: it only looks at the depth
    assert (backend.ai.calls[PROBLEMS], backend.pool_depth()) == (2, 6)
    taken = take(backend)
    assert taken.answer and len(taken.view.tiles) == 9
    wait_for(lambda: backend.ai.calls[PROBLEMS] == 3 and backend.pool_depth() == 6)
    time.sleep(0.5)
    assert (backend.ai.calls[PROBLEMS], backend.pool_depth()) == (3, 6)


def test_replicas_with_fillers_fill_one_pool_under_one_lease(make_backend, fresh_redis: str) -> None:
    first = filling_backend(make_backend, fresh_redis)
    second = filling_backend(make_backend, fresh_redis)
    wait_for(lambda: first.pool_depth() == 6)
    time.sleep(1.0)
    assert second.pool_depth() == 6
    calls = sorted([first.ai.calls[PROBLEMS], second.ai.calls[PROBLEMS]])
    assert calls == [0, 2], "only the lease holder fills"


def test_the_pools_depth_and_the_fillers_rate_are_metrics(make_backend, fresh_redis: str) -> None:
    backend = filling_backend(make_backend, fresh_redis)
    wait_for(lambda: backend.pool_depth() == 6)
    take(backend)
    text = backend.client.get("/api/metrics").text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("backend_pool_")
    }
    assert values["backend_pool_depth"] in (5.0, 6.0)  # read at the scrape: the filler may have refilled
    assert values["backend_pool_target_depth"] == 6.0
    assert values["backend_pool_added_total"] >= 6.0
    assert values["backend_pool_fill_rate"] > 0.0
    assert values['backend_pool_taken_total{result="issued"}'] == 1.0


def test_a_filler_without_the_ai_server_backs_off_and_fills_once_it_is_back(
    make_backend, fresh_redis: str
) -> None:
    backend = filling_backend(make_backend, fresh_redis)
    backend.ai.down = True
    wait_for(lambda: backend.ai.calls[PROBLEMS] >= 3)
    filler = backend.client.app.state.services.filler  # type: ignore[attr-defined]
    assert filler.failures >= 3
    assert backend.pool_depth() == 0
    backend.ai.down = False
    wait_for(lambda: backend.pool_depth() == 6)
    assert filler.failures == 0


def test_every_key_of_the_pool_expires(make_backend, fresh_redis: str) -> None:
    backend = filling_backend(make_backend, fresh_redis)
    wait_for(lambda: backend.pool_depth() == 6)
    client = redis.Redis.from_url(fresh_redis)
    try:
        keys = sorted(k.decode() for k in client.scan_iter(count=1000))
        assert keys == ["tcurity:lease:pool-filler", "tcurity:pool:b", "tcurity:r:pool:status"]
        assert [k for k in keys if client.pttl(k) < 0] == []
    finally:
        client.close()


def test_the_standalone_filler_needs_redis_and_takes_the_lease(tmp_path, fresh_redis: str) -> None:
    """``python -m web.backend.app.filler``: refused without a shared store; with one, it holds the lease (its
    AI server is down here, so it backs off without adding anything)."""
    with pytest.raises(SystemExit, match="REDIS_URL"):
        asyncio.run(run_filler(backend_settings(tmp_path), None))
    settings = backend_settings(tmp_path, redis_url=fresh_redis, ai_server_url="http://127.0.0.1:9")

    async def briefly() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run_filler(settings, None), 1.5)

    asyncio.run(briefly())
    client = redis.Redis.from_url(fresh_redis)
    try:
        assert client.get("tcurity:lease:pool-filler") is not None
        assert client.zcard("tcurity:pool:b") == 0
    finally:
        client.close()


def test_an_entry_that_does_not_parse_is_skipped_and_an_empty_pool_is_retryable() -> None:
    """A pooled entry of another format (a rolling upgrade) is dropped, never served; then ``pool_empty``."""
    view = {
        "problem_id": "p-1",
        "target": {"key": "bus", "en": "bus", "ko": "버스"},
        "prompt": {"en": "Select all images with bus", "ko": "버스가 있는 이미지를 선택하세요"},
        "grid": {"rows": 1, "cols": 2},
        "tiles": [
            {"tile_id": "tile-aaaaaaaaaaaa", "position": 0, "image": "data:image/jpeg;base64,AA=="},
            {"tile_id": "tile-bbbbbbbbbbbb", "position": 1, "image": "data:image/jpeg;base64,AA=="},
        ],
    }
    good = PooledProblem.model_validate({"view": view, "answer": ["tile-bbbbbbbbbbbb"], "model": "m@1"})

    async def scenario() -> None:
        telemetry = Telemetry()
        store = MemoryStore()
        pool = ProblemPool(store, telemetry, 60, 3)
        await store.push_problems([b'{"old": "format"}'], 30)  # expires first, so it is popped first
        await store.push_problems([good.model_dump_json().encode()], 60)
        assert await pool.take() == good
        with pytest.raises(ApiError) as refused:
            await pool.take()
        assert (refused.value.status, refused.value.code) == (503, "pool_empty")
        assert refused.value.headers == {"Retry-After": "3"}
        assert telemetry.pool_taken.labels("issued")._value.get() == 1.0
        assert telemetry.pool_taken.labels("empty")._value.get() == 1.0

    asyncio.run(scenario())
