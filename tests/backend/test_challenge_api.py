"""The challenge flow over HTTP against the real AI server: states, checks, limits and error codes."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import numpy as np
import pytest

from tcurity.geometry import random_perforation
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_a_trace
from tcurity.simulate.replay import replay_trace
from tcurity.traces import (
    MAX_POINTS,
    Event,
    PerforationTask,
    Trace,
    TraceArrays,
    make_trace,
    with_browser_signals,
)
from tests.backend.conftest import HOST, ORIGIN, Backend, human_answer
from web.backend.app.sites import SitePolicy

SCORE = "/v1/phase-a/score"


def base(session_id: str) -> str:
    return f"/api/v1/challenge/sessions/{session_id}"


def test_a_human_tear_passes_phase_a_and_gets_a_bound_token(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    session = backend.create(action="checkout")
    assert session["state"] == "created"
    assert session["phases"] == ["phase_a"]
    assert session["attempts_left"] == {"phase": 3, "session": 5}
    task = backend.issue_a(session["session_id"])
    response = backend.answer_a(session["session_id"], human_answer(passing_paths[0], task))
    assert response.status_code == 200
    result = response.json()
    assert result["outcome"] == "passed"
    assert result["state"] == "passed"
    claims = backend.claims(result["token"])
    assert claims is not None
    assert (claims.sitekey, claims.hostname, claims.action) == (
        backend.sites["main"].sitekey,
        HOST,
        "checkout",
    )
    assert claims.session_id == session["session_id"]
    assert claims.expires_ms - claims.issued_ms == 120_000
    assert claims.models["phase_a"] == "tcurity-phase-a-iforest@1"
    assert backend.ai.calls[SCORE] == 1


def _readable(token: str) -> list[str]:
    """Everything the browser can read out of a token: the token itself and each part base64url-decoded."""
    found = [token]
    for part in token.split("."):
        try:
            found.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return found


def test_the_token_tells_the_browser_no_reason_score_threshold_or_model(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    bot = make_trace(phase_a_trace(task, "teleport", np.random.default_rng(0)), task)
    assert backend.answer_a(sid, bot).json()["outcome"] == "retry"
    result = backend.answer_a(sid, human_answer(passing_paths[0], backend.issue_a(sid))).json()
    assert result["outcome"] == "passed"
    claims = backend.claims(result["token"])
    assert claims is not None and claims.reasons and claims.scores and claims.models  # kept server-side
    phase_a_score, threshold = claims.scores["phase_a"]
    secrets_of_the_pass = [
        *claims.reasons,
        claims.models["phase_a"],
        "phase_a",
        "iforest",
        repr(phase_a_score)[:8],
        repr(threshold)[:8],
        '"sc"',
        '"r"',
        '"m"',
    ]
    for text in [*_readable(result["token"]), json.dumps(result)]:
        for secret in secrets_of_the_pass:
            assert secret not in text, f"{secret!r} is readable in what the browser gets"
    for text in _readable(result["token"])[1:]:
        try:
            json.loads(text)
        except ValueError:
            continue
        raise AssertionError(f"a token part decodes to JSON: {text!r}")
    verdict = backend.siteverify(result["token"]).json()  # siteverify is where they are told
    assert verdict["success"] is True
    assert verdict["reasons"] == claims.reasons
    assert verdict["scores"]["phase_a"] == {"score": phase_a_score, "threshold": threshold}


def test_phase_b_follows_phase_a_when_the_site_asks_for_it(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="always")})
    session = backend.create()
    assert session["phases"] == ["phase_a", "phase_b"]
    task = backend.issue_a(session["session_id"])
    result = backend.answer_a(session["session_id"], human_answer(passing_paths[0], task)).json()
    assert result == {
        "outcome": "next_phase",
        "state": "phase_b",
        "attempts_left": {"phase": 3, "session": 4},
        "token": None,
        "token_expires_at": None,
    }


def test_every_transition_is_checked(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    trace = human_answer(passing_paths[0], random_perforation(np.random.default_rng(0)))
    early = backend.answer_a(sid, trace)
    assert early.status_code == 409
    assert early.json()["error"] == {
        "code": "invalid_state",
        "message": "no open phase_a task",
        "details": {"state": "created"},
    }
    assert backend.post(f"{base(sid)}/phase-b").json()["error"]["code"] == "invalid_state"
    task = backend.issue_a(sid)
    assert backend.answer_a(sid, human_answer(passing_paths[0], task)).json()["outcome"] == "passed"
    again = backend.answer_a(sid, human_answer(passing_paths[0], task))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_state")
    assert backend.post(f"{base(sid)}/phase-a").json()["error"]["code"] == "invalid_state"
    status = backend.client.get(base(sid), headers={"Origin": ORIGIN}).json()
    assert status["state"] == "passed"


def test_the_trace_must_answer_the_task_that_was_issued(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    issued = backend.issue_a(sid)
    other = issued.model_copy(update={"bend": -issued.bend if issued.bend else 0.01})
    response = backend.answer_a(sid, human_answer(passing_paths[0], other))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "wrong_task"
    assert response.json()["error"]["details"] == {
        "state": "phase_a",
        "attempts_left": {"phase": 2, "session": 4},
    }
    assert backend.ai.calls[SCORE] == 0


def test_the_time_limit_told_is_the_one_enforced(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(phase_a_time_limit_s=5.0)
    sid = backend.create()["session_id"]
    issued = backend.post(f"{base(sid)}/phase-a").json()
    assert issued["time_limit_ms"] == 5000
    task = PerforationTask.model_validate(issued["task"])
    backend.clock.advance(5.2)
    late = backend.answer_a(sid, human_answer(passing_paths[0], task), wait=False)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "task_expired")
    task = backend.issue_a(sid)
    backend.clock.advance(4.0)
    in_time = backend.answer_a(sid, human_answer(passing_paths[0], task), wait=False)
    assert in_time.json()["outcome"] == "passed"


def test_a_trace_longer_than_the_time_since_issue_fails_without_the_model(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(passing_paths[0], task), wait=False).json()
    assert result["outcome"] == "retry"
    assert backend.ai.calls[SCORE] == 0


def test_a_replayed_tear_is_refused_in_any_other_session(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    first = backend.create()["session_id"]
    accepted = human_answer(passing_paths[0], backend.issue_a(first))
    assert backend.answer_a(first, accepted).json()["outcome"] == "passed"
    for speed, warp in [(1.0, 0.0), (0.85, 0.1)]:  # exactly, then time-warped, onto each new perforation
        sid = backend.create()["session_id"]
        task = backend.issue_a(sid)
        replayed = make_trace(replay_trace(accepted, task, speed, warp), task)
        result = backend.answer_a(sid, replayed).json()
        assert result["outcome"] == "retry", result
    assert backend.ai.calls[SCORE] == 1  # refused before the model
    status = backend.client.get(base(sid), headers={"Origin": ORIGIN}).json()
    assert status["attempts_left"]["phase"] == 2
    fresh = backend.create()["session_id"]  # another stroke of the same person is not a replay
    assert (
        backend.answer_a(fresh, human_answer(passing_paths[1], backend.issue_a(fresh))).json()["outcome"]
        == "passed"
    )


def test_a_refused_tear_leaves_no_replay_mark(make_backend) -> None:
    """Only passing answers stay in the replay index (security review: junk answers flushed the bounded index).
    A scripted tear the model refuses may be sent again in another session, and is judged by the model again."""
    backend: Backend = make_backend()
    first = backend.create()["session_id"]
    task = backend.issue_a(first)
    scripted = with_browser_signals(
        make_trace(phase_a_trace(task, "linear_steps", np.random.default_rng(3)), task)
    )
    assert backend.answer_a(first, scripted).json()["outcome"] == "retry"
    assert backend.ai.calls[SCORE] == 1
    sid = backend.create()["session_id"]
    retask = backend.issue_a(sid)
    again = with_browser_signals(make_trace(replay_trace(scripted, retask, 1.0, 0.0), retask))
    assert backend.answer_a(sid, again).json()["outcome"] == "retry"
    assert backend.ai.calls[SCORE] == 2  # scored, not refused as a replay of a refused answer


def test_a_noisy_replay_is_refused_in_any_other_session(make_backend, passing_paths: list[Path2]) -> None:
    """Sub-pixel noise on every point gives a new exact key, not a new profile (security review 1b)."""
    backend: Backend = make_backend()
    first = backend.create()["session_id"]
    accepted = human_answer(passing_paths[0], backend.issue_a(first))
    assert backend.answer_a(first, accepted).json()["outcome"] == "passed"
    rng = np.random.default_rng(0)
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    arrays = replay_trace(accepted, task, 0.9, 0.1)
    w, h = task.area_px
    arrays.x[:] += rng.normal(0.0, 0.5, len(arrays.x)) / w
    arrays.y[:] += rng.normal(0.0, 0.5, len(arrays.y)) / h
    assert backend.answer_a(sid, make_trace(arrays, task)).json()["outcome"] == "retry"
    assert backend.ai.calls[SCORE] == 1  # refused before the model


def with_junk_press(trace: Trace, rng: np.random.Generator) -> dict[str, Any]:
    """The answer body of ``trace`` with a random 5-point press 60 ms after its ``up`` (security review 1a)."""
    a = trace.arrays()
    t = np.r_[a.t_ms, a.t_ms[-1] + 60 + 10 * np.arange(5)]
    event = np.r_[a.event, [Event.DOWN, Event.MOVE, Event.MOVE, Event.MOVE, Event.UP]].astype(np.int8)
    junk = TraceArrays(np.r_[a.x, rng.uniform(0.05, 0.3, 5)], np.r_[a.y, rng.uniform(0.3, 0.7, 5)], t, event)
    trace_body = trace.model_dump(mode="json") | {"points": junk.to_points().model_dump(mode="json")}
    return {"trace": trace_body}


def test_a_replay_with_a_junk_press_is_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    first = backend.create()["session_id"]
    accepted = human_answer(passing_paths[0], backend.issue_a(first))
    assert backend.answer_a(first, accepted).json()["outcome"] == "passed"
    rng = np.random.default_rng(0)
    for _ in range(3):
        sid = backend.create()["session_id"]
        task = backend.issue_a(sid)
        body = with_junk_press(make_trace(replay_trace(accepted, task), task), rng)
        backend.clock.advance(2.0)
        response = backend.post(f"{base(sid)}/phase-a/answer", body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "bad_event_sequence"
    assert backend.ai.calls[SCORE] == 1  # only the genuine tear reached the model


def test_geometry_is_checked_on_the_server_before_the_model(make_backend) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    rng = np.random.default_rng(3)
    shifted = task.model_copy(update={"start": task.start.model_copy(update={"x": task.start.x - 0.3})})
    off_line = make_trace(phase_a_trace(shifted, "windmouse", rng), task)
    result = backend.answer_a(sid, off_line).json()
    assert result["outcome"] == "retry"
    assert backend.ai.calls[SCORE] == 0


def test_attempts_run_out_and_the_session_is_blocked(make_backend) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", max_attempts_phase_a=2)})
    sid = backend.create()["session_id"]
    outcomes = []
    for seed in range(2):
        task = backend.issue_a(sid)
        bot = make_trace(phase_a_trace(task, "teleport", np.random.default_rng(seed)), task)
        outcomes.append(backend.answer_a(sid, bot).json())
    assert [o["outcome"] for o in outcomes] == ["retry", "blocked"]
    assert outcomes[1]["attempts_left"] == {"phase": 0, "session": 0}
    refused = backend.post(f"{base(sid)}/phase-a")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "invalid_state")


def test_unanswered_tasks_use_attempts_too(make_backend) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", max_attempts_phase_a=2)})
    sid = backend.create()["session_id"]
    backend.issue_a(sid)
    backend.issue_a(sid)
    third = backend.post(f"{base(sid)}/phase-a")
    assert (third.status_code, third.json()["error"]["code"]) == (409, "attempts_exhausted")


def test_fail_closed_when_the_ai_server_is_down_then_retry(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    trace = human_answer(passing_paths[0], task)
    backend.ai.down = True
    down = backend.answer_a(sid, trace)
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "ai_unavailable"
    backend.ai.down = False
    again = backend.answer_a(sid, trace, wait=False)
    assert again.json()["outcome"] == "passed"


def test_fail_open_sites_pass_unscored(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", fail_open=True)})
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    backend.ai.down = True
    result = backend.answer_a(sid, human_answer(passing_paths[0], task)).json()
    assert result["outcome"] == "passed"
    verdict = backend.siteverify(result["token"]).json()
    assert verdict["success"] is True
    assert verdict["unscored"] is True
    assert verdict["reasons"] == ["ai_unavailable"]
    assert verdict["score"] is None


def test_fail_open_still_checks_geometry(make_backend) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", fail_open=True)})
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    backend.ai.down = True
    shifted = task.model_copy(update={"start": task.start.model_copy(update={"x": task.start.x - 0.3})})
    swipe = make_trace(phase_a_trace(shifted, "linear_steps", np.random.default_rng(1)), task)
    assert backend.answer_a(sid, swipe).json()["outcome"] == "retry"


def test_origin_must_be_a_hostname_of_the_site_and_of_the_session(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    sitekey = backend.sites["main"].sitekey
    body = {"sitekey": sitekey}
    url = "/api/v1/challenge/sessions"
    assert backend.client.post(url, json=body).json()["error"]["code"] == "origin_not_allowed"
    evil = backend.client.post(url, json=body, headers={"Origin": "https://evil.example.net"})
    assert (evil.status_code, evil.json()["error"]["code"]) == (403, "origin_not_allowed")
    plain_http = backend.client.post(url, json=body, headers={"Origin": "http://tickets.example.com"})
    assert plain_http.status_code == 403
    sid = backend.create()["session_id"]
    other_host = backend.post(f"{base(sid)}/phase-a", origin="https://other.example.com")
    assert (other_host.status_code, other_host.json()["error"]["code"]) == (403, "origin_not_allowed")
    unknown = backend.client.post(url, json={"sitekey": "tk_unknown_key"}, headers={"Origin": ORIGIN})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "invalid_sitekey")


def test_cors_follows_the_sites_hostnames(make_backend) -> None:
    backend: Backend = make_backend()
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = backend.client.options("/api/v1/challenge/sessions", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    denied = backend.client.options(
        "/api/v1/challenge/sessions", headers={**preflight, "Origin": "https://evil.example.net"}
    )
    assert denied.status_code == 403
    assert "access-control-allow-origin" not in denied.headers
    created = backend.client.post(
        "/api/v1/challenge/sessions",
        json={"sitekey": backend.sites["main"].sitekey},
        headers={"Origin": ORIGIN},
    )
    assert created.headers["access-control-allow-origin"] == ORIGIN
    verify = backend.client.options("/api/v1/siteverify", headers=preflight)
    assert "access-control-allow-origin" not in verify.headers


def test_challenge_requests_are_rate_limited_per_ip(make_backend) -> None:
    backend: Backend = make_backend(rate_limit_per_ip=3)
    for _ in range(3):
        backend.create()
    limited = backend.client.post(
        "/api/v1/challenge/sessions",
        json={"sitekey": backend.sites["main"].sitekey},
        headers={"Origin": ORIGIN},
    )
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_challenge_requests_are_rate_limited_per_sitekey(make_backend) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(requests_per_window=2)})
    body = {"sitekey": backend.sites["main"].sitekey}
    clients = [backend.from_ip(ip) for ip in ("198.51.100.1", "203.0.113.1", "192.0.2.1")]
    codes = [c.post("/api/v1/challenge/sessions", json=body, headers={"Origin": ORIGIN}) for c in clients]
    assert [c.status_code for c in codes] == [201, 201, 429]
    assert codes[2].json()["error"]["code"] == "rate_limited"


def test_bad_input_gets_documented_codes_never_a_500(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(max_body_bytes=300_000)
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    body = {"trace": human_answer(passing_paths[0], task).model_dump(mode="json")}
    body["trace"]["points"]["t_ms"] = list(reversed(body["trace"]["points"]["t_ms"]))
    answer = f"{base(sid)}/phase-a/answer"
    cases = [
        (backend.post(answer, body), 422, "time_not_monotonic"),
        (backend.post(answer, {"trace": {"points": {}}}), 422, "invalid_request"),
        (
            backend.client.post(
                answer, content=b"{not json", headers={"Origin": ORIGIN, "Content-Type": "application/json"}
            ),
            422,
            "invalid_request",
        ),
        (
            backend.client.post(
                answer, content=b"a=b", headers={"Origin": ORIGIN, "Content-Type": "text/plain"}
            ),
            415,
            "unsupported_media_type",
        ),
        (
            backend.client.post(
                answer,
                content=b"x" * 1_100_000,
                headers={"Origin": ORIGIN, "Content-Type": "application/json"},
            ),
            413,
            "payload_too_large",
        ),
        (backend.post("/api/v1/challenge/sessions/short/phase-a"), 422, "invalid_request"),
        (backend.post(f"{base('x' * 32)}/phase-a"), 404, "session_not_found"),
        (backend.client.get("/api/v1/nowhere"), 404, "not_found"),
        (backend.client.delete("/api/v1/siteverify"), 405, "method_not_allowed"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text


def test_the_largest_trace_the_sdk_sends_is_scored_not_refused(
    make_backend, passing_paths: list[Path2]
) -> None:
    """8,000 points with every browser signal, rounded as the SDK rounds them (~450 kB of JSON), fit the
    backend's and the AI server's body limits."""
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    stroke = human_answer(passing_paths[0], task).arrays()
    n = MAX_POINTS
    t = np.linspace(stroke.t_ms[0], stroke.t_ms[-1], n)
    event = np.full(n, Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    dense = TraceArrays(np.interp(t, stroke.t_ms, stroke.x), np.interp(t, stroke.t_ms, stroke.y), t, event)
    body = {"trace": make_trace(dense, task).model_dump(mode="json")}
    points = body["trace"]["points"]
    points["x"] = [round(v, 5) for v in points["x"]]
    points["y"] = [round(v, 5) for v in points["y"]]
    points["t_ms"] = [round(1_234_567.0 + v, 2) for v in points["t_ms"]]
    points |= {"pointer_type": ["mouse"] * n, "trusted": [True] * n, "coalesced": [3] * n}
    assert len(json.dumps(body)) > 400_000
    backend.clock.advance((t[-1] - t[0]) / 1000.0 + 0.05)
    response = backend.post(f"{base(sid)}/phase-a/answer", body)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] in {"passed", "retry"}
    assert backend.ai.calls[SCORE] == 1


def test_sessions_expire(make_backend, passing_paths: list[Path2]) -> None:
    from tests.backend.conftest import Clock
    from web.backend.app.store import MemoryStore

    clock = Clock()
    backend: Backend = make_backend(store=MemoryStore(clock=clock), session_ttl_s=60)
    sid = backend.create()["session_id"]
    backend.issue_a(sid)
    clock.advance(61)
    gone = backend.post(f"{base(sid)}/phase-a")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "session_not_found")


def test_the_request_path_imports_no_training_data_reader() -> None:
    """The backend refuses replays with the package's profile alone: the Balabit reader stays out of it."""
    import subprocess
    import sys

    code = "import sys, web.backend.app.main; print(sorted(m for m in sys.modules if m.startswith('tcurity.data.')))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_missing_model_is_service_not_ready_and_never_fails_open(
    make_backend, passing_paths: list[Path2], fail_open: bool
) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", fail_open=fail_open)})
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    trace = human_answer(passing_paths[0], task)
    backend.ai.unconfigured = True  # the AI server answers, but has no Phase A champion
    refused = backend.answer_a(sid, trace)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_not_ready"
    assert refused.json()["error"]["details"] == {"ai_code": "model_unavailable"}
    assert "Retry-After" not in refused.headers
    backend.ai.unconfigured = False  # an operator promoted a champion: the same task can be answered
    again = backend.answer_a(sid, trace, wait=False)
    assert again.json()["outcome"] == "passed"
