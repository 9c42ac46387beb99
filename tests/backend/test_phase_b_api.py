"""Phase B through the backend (problems from the real generator behind the contract double): the answer
stays on the server, order matters, problems never repeat tiles, and nothing secret reaches a response or a log."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tcurity.geometry import grid_layout
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_b_trace
from tcurity.traces import GridTask, Trace, make_trace
from tests.backend.conftest import ORIGIN, Backend, human_answer
from web.backend.app.core.logging import JsonFormatter
from web.backend.app.services.ai_client import AiNotReadyError
from web.backend.app.sites import SitePolicy

PHASE_B = SitePolicy(phase_b="always")


def to_phase_b(backend: Backend, path: Path2) -> str:
    """A session at Phase B, with the pool filled (what the background filler does)."""
    backend.fill_pool()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    assert backend.answer_a(sid, human_answer(path, task)).json()["outcome"] == "next_phase"
    return str(sid)


def issue_b(backend: Backend, sid: str) -> dict[str, Any]:
    response = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    assert response.status_code == 200, response.text
    return dict(response.json())


def kept_answer(backend: Backend, sid: str) -> list[str]:
    """The answer as the server keeps it (read from the store, as only the server can)."""
    import asyncio

    record = asyncio.run(backend.client.app.state.services.store.get_session(sid))  # type: ignore[attr-defined]
    from web.backend.app.services.session import SessionRecord

    answer = SessionRecord.model_validate_json(record.data).open_task.answer
    assert answer
    return list(answer)


def drags(problem: dict[str, Any], tile_ids: list[str], seed: int = 0) -> Trace:
    """A trace dragging the given tiles, in order, into the slots."""
    task = GridTask.model_validate(problem["task"])
    position = {t["tile_id"]: t["position"] for t in problem["problem"]["tiles"]}
    moves = [(position[tile], k) for k, tile in enumerate(tile_ids)]
    return make_trace(phase_b_trace(task, moves, "windmouse", np.random.default_rng(seed)), task)


def answer_b(backend: Backend, sid: str, tile_ids: list[str], trace: Trace) -> dict[str, Any]:
    backend.clock.advance((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
    body = {"tile_ids": tile_ids, "trace": trace.model_dump(mode="json")}
    response = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b/answer", body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_right_tiles_in_order_pass_and_verify_with_both_models(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(sites={"main": PHASE_B})
    sid = to_phase_b(backend, passing_paths[0])
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    assert problem["task"] == grid_layout(len(answer)).model_dump(mode="json")
    assert problem["time_limit_ms"] == 90_000
    assert set(problem["problem"]) == {"problem_id", "target", "prompt", "grid", "tiles"}
    assert set(problem["problem"]["target"]) == {"en", "ko"}, "display names only, no class key (review 8)"
    assert all(set(t) == {"tile_id", "position", "image"} for t in problem["problem"]["tiles"])
    result = answer_b(backend, sid, answer, drags(problem, answer))
    assert result["outcome"] == "passed"
    verdict = backend.siteverify(result["token"]).json()
    assert verdict["success"] is True
    assert verdict["models"] == {
        "phase_a": "tcurity-phase-a-iforest@1",
        "phase_b": "tcurity-phase-b-rf@double",
        "phase_b_problem": "contract-double@1",
        "integrity": "tcurity-integrity@2",  # the input-integrity rules that judged the answers
    }
    assert verdict["score"] == verdict["scores"]["phase_b"]["score"] == 1.0


def test_order_matters_and_a_wrong_answer_costs_the_same_model_call(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(sites={"main": PHASE_B})
    sid = to_phase_b(backend, passing_paths[0])
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    reordered = answer[::-1]
    calls = backend.ai.calls["/v1/phase-b/score"]
    result = answer_b(backend, sid, reordered, drags(problem, reordered))
    assert result["outcome"] == "retry"
    assert backend.ai.calls["/v1/phase-b/score"] == calls + 1, "scored like a right answer (no timing oracle)"
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    assert answer_b(backend, sid, answer, drags(problem, answer))["outcome"] == "passed"


def test_a_bad_behaviour_score_fails_a_right_answer(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": PHASE_B})
    sid = to_phase_b(backend, passing_paths[0])
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    right = drags(problem, answer)
    untrusted = right.model_copy(
        update={"points": right.points.model_copy(update={"trusted": [False] * len(right.points.x)})}
    )
    calls = backend.ai.calls["/v1/phase-b/score"]
    assert answer_b(backend, sid, answer, untrusted)["outcome"] == "retry"
    assert backend.ai.calls["/v1/phase-b/score"] == calls + 1


def test_drags_need_to_move_the_named_tiles(make_backend, passing_paths: list[Path2]) -> None:
    """The right tile ids with drags of other tiles are refused before the model (security review 1b)."""
    backend: Backend = make_backend(sites={"main": PHASE_B})
    sid = to_phase_b(backend, passing_paths[0])
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    others = [t["tile_id"] for t in problem["problem"]["tiles"] if t["tile_id"] not in answer][: len(answer)]
    calls = backend.ai.calls["/v1/phase-b/score"]
    assert answer_b(backend, sid, answer, drags(problem, others))["outcome"] == "retry"
    assert backend.ai.calls["/v1/phase-b/score"] == calls
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    one_drag_short = drags(problem, answer[:-1])
    assert answer_b(backend, sid, answer, one_drag_short)["outcome"] == "retry"
    assert backend.ai.calls["/v1/phase-b/score"] == calls


def test_problems_never_repeat_tile_ids_or_bytes(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="always", max_attempts_phase_b=4, max_attempts_session=6)}
    )
    sid = to_phase_b(backend, passing_paths[0])
    ids: list[str] = []
    images: list[bytes] = []
    for _ in range(3):
        tiles = issue_b(backend, sid)["problem"]["tiles"]
        ids += [t["tile_id"] for t in tiles]
        images += [base64.b64decode(t["image"].split(",", 1)[1]) for t in tiles]
    assert len(set(ids)) == len(ids) == 27
    assert len(set(images)) == len(images)


@pytest.mark.parametrize("fail_open", [False, True])
def test_issuing_takes_from_the_pool_without_the_ai_server_and_an_empty_pool_never_passes(
    make_backend, passing_paths: list[Path2], fail_open: bool
) -> None:
    """Security review 4: issuing Phase B calls no AI server, so load on it cannot make issuing fail open; an
    empty pool is the retryable ``pool_empty`` (503, Retry-After), uses no attempt and never passes."""
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="always", fail_open=fail_open)})
    sid = to_phase_b(backend, passing_paths[0])
    assert backend.pool_depth() == 4
    backend.ai.down = True
    calls = sum(backend.ai.calls.values())
    for _ in range(3):
        issue_b(backend, sid)
    assert sum(backend.ai.calls.values()) == calls, "issuing called the AI server"
    assert backend.pool_depth() == 1
    other = backend.create()["session_id"]
    backend.ai.down = False
    task = backend.issue_a(other)
    assert backend.answer_a(other, human_answer(passing_paths[1], task)).json()["outcome"] == "next_phase"
    issue_b(backend, other)  # the last problem
    before = backend.client.get(f"/api/v1/challenge/sessions/{other}", headers={"Origin": ORIGIN}).json()
    refused = backend.post(f"/api/v1/challenge/sessions/{other}/phase-b")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "pool_empty"
    assert refused.headers["retry-after"] == "2"
    after = backend.client.get(f"/api/v1/challenge/sessions/{other}", headers={"Origin": ORIGIN}).json()
    assert after == before, "the refusal used an attempt or moved the session"
    assert after["state"] == "phase_b"
    backend.fill_pool()
    assert "problem" in issue_b(backend, other)


def test_issues_are_limited_per_ip_and_per_site_before_the_pool(
    make_backend, passing_paths: list[Path2]
) -> None:
    """Security review 4: one client, or one site, cannot drain the shared pool; a limited issue takes nothing
    from the pool and uses no attempt."""
    policy = SitePolicy(phase_b="always", max_attempts_phase_b=4, max_attempts_session=6)
    backend: Backend = make_backend(sites={"main": policy}, problems_per_ip=2)
    sid = to_phase_b(backend, passing_paths[0])
    issue_b(backend, sid)
    issue_b(backend, sid)
    limited = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert backend.pool_depth() == 2
    status = backend.client.get(f"/api/v1/challenge/sessions/{sid}", headers={"Origin": ORIGIN}).json()
    assert status["attempts_left"] == {"phase": 2, "session": 3}
    site_wide: Backend = make_backend(sites={"main": PHASE_B}, phase_b_issues_per_sitekey=1)
    first = to_phase_b(site_wide, passing_paths[0])
    second = site_wide.create()["session_id"]
    task = site_wide.issue_a(second)
    assert site_wide.answer_a(second, human_answer(passing_paths[1], task)).json()["outcome"] == "next_phase"
    issue_b(site_wide, first)
    refused = site_wide.post(f"/api/v1/challenge/sessions/{second}/phase-b")
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert site_wide.pool_depth() == 3


def test_the_answer_never_leaves_the_server(
    make_backend, passing_paths: list[Path2], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend: Backend = make_backend(sites={"main": PHASE_B})
    bodies: list[str] = []
    sid = to_phase_b(backend, passing_paths[0])
    issued = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    bodies.append(issued.text)
    problem = issued.json()
    answer = kept_answer(backend, sid)
    wrong = answer[1:] + answer[:1]
    trace = drags(problem, wrong)
    backend.clock.advance(trace.points.t_ms[-1] / 1000.0 + 0.05)
    failed = backend.post(
        f"/api/v1/challenge/sessions/{sid}/phase-b/answer",
        {"tile_ids": wrong, "trace": trace.model_dump(mode="json")},
    )
    bodies.append(failed.text)
    bodies.append(
        backend.client.get(
            f"/api/v1/challenge/sessions/{sid}", headers={"Origin": "https://tickets.example.com"}
        ).text
    )
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    passed = answer_b(backend, sid, answer, drags(problem, answer))
    bodies.append(str(passed))
    verdict = backend.siteverify(passed["token"])
    bodies.append(verdict.text)
    # Our own records, as the JSON formatter writes them (the test client logs its URLs on its own).
    logs = "\n".join(JsonFormatter().format(r) for r in caplog.records if r.name.startswith("web."))
    assert '"request_id"' in logs
    secret = backend.sites["main"].secret
    for text in bodies:
        assert json.dumps(answer) not in text.replace("'", '"')
        assert '"answer"' not in text
        assert '"numbers"' not in text
    assert not [tile for tile in answer if tile in logs], "no tile id is ever logged"
    assert secret not in logs
    assert passed["token"] not in logs
    assert sid not in logs


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_missing_image_model_is_service_not_ready_and_never_fails_open(
    make_backend, passing_paths: list[Path2], fail_open: bool
) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="always", fail_open=fail_open)}, problem_pool_depth=1
    )
    sid = to_phase_b(backend, passing_paths[0])
    issue_b(backend, sid)  # the pool is empty now
    backend.ai.unconfigured = True  # the AI server answers, but has no image champion or bank
    with pytest.raises(AiNotReadyError):
        backend.fill_pool()  # the filler notes why it cannot fill
    refused = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "service_not_ready")
    assert refused.json()["error"]["details"] == {"ai_code": "bank_unavailable"}
    backend.ai.unconfigured = False
    backend.fill_pool()  # a good batch clears the note
    assert "problem" in issue_b(backend, sid)


def _from(backend: Backend, ip: str) -> Backend:
    """The same backend (one app, one pool) as seen from another client address."""
    client = TestClient(backend.client.app, raise_server_exceptions=False, client=(ip, 50000))
    return replace(backend, client=client)


def _at_phase_b(backend: Backend, path: Path2) -> str:
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    assert backend.answer_a(sid, human_answer(path, task)).json()["outcome"] == "next_phase"
    return str(sid)


def test_phase_b_problems_are_budgeted_per_ip_and_per_network(
    make_backend, passing_paths: list[Path2]
) -> None:
    """Security review 8: an address, and its /24, get a bounded number of problems per window; a refused
    problem takes nothing from the pool and costs no attempt."""
    policy = SitePolicy(phase_b="always", max_attempts_phase_b=4, max_attempts_session=6)
    backend: Backend = make_backend(
        sites={"main": policy},
        peer="198.51.100.7",
        phase_b_budget_per_ip=2,
        phase_b_budget_per_network=3,
        phase_b_budget_window_s=3600,
        problem_pool_depth=8,
    )
    backend.fill_pool()
    sid = _at_phase_b(backend, passing_paths[0])
    issue_b(backend, sid)
    left = issue_b(backend, sid)["attempts_left"]
    depth = backend.pool_depth()
    refused = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["details"]["scope"]) == ("solve_budget_exhausted", "ip")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    status = backend.client.get(f"/api/v1/challenge/sessions/{sid}", headers={"Origin": ORIGIN}).json()
    assert status["attempts_left"] == left, "a refused problem costs no attempt"
    assert backend.pool_depth() == depth, "a refused problem takes nothing from the pool"
    neighbour = _from(backend, "198.51.100.8")
    sid = _at_phase_b(neighbour, passing_paths[1])
    issue_b(neighbour, sid)
    refused = neighbour.post(f"/api/v1/challenge/sessions/{sid}/phase-b")
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["scope"] == "network"
    elsewhere = _from(backend, "203.0.113.5")
    issue_b(elsewhere, _at_phase_b(elsewhere, passing_paths[2]))
    metrics = backend.client.get("/api/metrics").text
    assert 'backend_rate_limited_total{scope="phase_b_budget_ip"} 1.0' in metrics
    assert 'backend_rate_limited_total{scope="phase_b_budget_network"} 1.0' in metrics
