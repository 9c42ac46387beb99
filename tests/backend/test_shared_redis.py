"""Two backend instances on one Redis serve one session interchangeably, and a token verifies once across them."""

from __future__ import annotations

from tcurity.sampling import Path2
from tests.backend.conftest import ORIGIN, Backend, human_answer
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
