"""Two backend instances on one Redis serve one session interchangeably, and a token verifies once across them."""

from __future__ import annotations

import socket

import redis

from tcurity.sampling import Path2
from tests.backend.conftest import ORIGIN, Backend, human_answer
from tests.backend.test_collect import bot_answer
from web.backend.app.sites import SitePolicy
from web.backend.app.store.redis_store import RedisStore


def test_two_instances_share_sessions_tokens_and_limits(
    make_backend, fresh_redis: str, passing_paths: list[Path2], tmp_path
) -> None:
    first: Backend = make_backend(redis_url=fresh_redis, folder=tmp_path)
    second: Backend = make_backend(redis_url=fresh_redis, folder=tmp_path)
    second.sites = first.sites  # one sites file: the second build added its own site beside the first's
    assert isinstance(first.client.app.state.services.store, RedisStore)  # type: ignore[attr-defined]
    sid = first.create()["session_id"]
    task = second.issue_a(sid)
    status = first.client.get(f"/api/v1/challenge/sessions/{sid}", headers={"Origin": ORIGIN}).json()
    assert status["state"] == "phase_a"
    trace = human_answer(passing_paths[0], task)
    second.clock.advance(trace.points.t_ms[-1] / 1000.0 + 0.05)
    result = second.answer_a(sid, trace, wait=False).json()
    assert result["outcome"] == "passed"
    assert first.siteverify(result["token"]).json()["success"] is True
    assert second.siteverify(result["token"]).json()["error-codes"] == ["timeout-or-duplicate"]
    assert first.answer_a(sid, trace).json()["error"]["code"] == "invalid_state"


def test_rate_limits_are_shared(make_backend, fresh_redis: str, tmp_path) -> None:
    first: Backend = make_backend(redis_url=fresh_redis, folder=tmp_path, rate_limit_per_ip=4)
    second: Backend = make_backend(redis_url=fresh_redis, folder=tmp_path, rate_limit_per_ip=4)
    second.sites = first.sites
    first.create()
    second.create()
    first.create()
    second.create()
    limited = first.client.post(
        "/api/v1/challenge/sessions",
        json={"sitekey": first.sites["main"].sitekey},
        headers={"Origin": ORIGIN},
    )
    assert limited.status_code == 429


def test_every_key_the_backend_writes_expires(
    make_backend, fresh_redis: str, passing_paths: list[Path2]
) -> None:
    """A whole flow on a collecting site (a refused and a passing answer, siteverify with an idempotency key, a
    wrong secret, a label) leaves no key without a TTL in Redis."""
    policy = SitePolicy(phase_b="never", collect=True)
    backend: Backend = make_backend(sites={"main": policy}, redis_url=fresh_redis)
    sid = backend.create()["session_id"]
    bot_answer(backend, sid)
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(passing_paths[0], task)).json()
    assert result["outcome"] == "passed"
    assert backend.siteverify(result["token"], idempotency_key="order-1").json()["success"] is True
    wrong = backend.client.post(
        "/api/v1/siteverify", data={"secret": "ts_wrong", "response": result["token"]}
    )
    assert wrong.json()["success"] is False
    secret = backend.sites["main"].secret
    report = {"secret": secret, "session_id": sid, "label": "confirmed_human"}
    assert backend.client.post("/api/v1/report", json=report).status_code == 200
    client = redis.Redis.from_url(fresh_redis)
    try:
        keys = sorted(k.decode() for k in client.scan_iter(count=1000))
        kinds = {k.split(":")[1] for k in keys}
        assert {"s", "c", "r", "rl", "tr", "trs", "trsess", "lbl"} <= kinds
        assert [k for k in keys if client.pttl(k) < 0] == []
    finally:
        client.close()


def test_collection_can_live_in_its_own_redis(
    make_backend, fresh_redis: str, passing_paths: list[Path2]
) -> None:
    """With ``COLLECT_REDIS_URL`` the traces and labels go there, and the session store holds none of them."""
    collect_url = fresh_redis.rsplit("/", 1)[0] + "/1"
    main, collect = redis.Redis.from_url(fresh_redis), redis.Redis.from_url(collect_url)
    collect.flushdb()
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never", collect=True)},
        redis_url=fresh_redis,
        collect_redis_url=collect_url,
    )
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    assert backend.answer_a(sid, human_answer(passing_paths[0], task)).json()["outcome"] == "passed"
    try:
        kinds = [{k.decode().split(":")[1] for k in r.scan_iter(count=1000)} for r in (main, collect)]
        assert "s" in kinds[0] and not kinds[0] & {"tr", "trs", "trsess"}
        assert kinds[1] == {"tr", "trs", "trsz", "trb", "trsess"}
    finally:
        collect.flushdb()
        main.close()
        collect.close()


def test_an_unreachable_store_is_store_unavailable_never_a_500(make_backend) -> None:
    """A store call no service maps itself (the rate limit's, first on every request) is still documented."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    backend: Backend = make_backend(redis_url=f"redis://127.0.0.1:{closed_port}/0")
    response = backend.client.post(
        "/api/v1/challenge/sessions",
        json={"sitekey": backend.sites["main"].sitekey},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
