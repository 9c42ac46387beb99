"""Phase A: score a tear along the perforation."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import State
from starlette.exceptions import HTTPException

from serving.auth import check_token
from serving.decisions import Decision, decide_phase_a
from serving.errors import ApiError
from serving.models import ModelSet
from serving.score_requests import (
    ScoreLane,
    add_score_route,
    parse_score_request,
    score_bytes,
    score_response,
    scoring_clock,
)
from serving.telemetry import Telemetry
from tcurity.traces import PerforationTask

SCORE_PATH = "/v1/phase-a/score"


def scored(state: State, raw: bytes) -> Decision:
    """The decision on a request's body: validated from its bytes, the task checked, decided by the champion
    loaded now, and counted (its scoring CPU, its outcome).

    Raises:
        RequestValidationError: the body does not validate (FastAPI's errors).
        HTTPException: 400, the body is JSON FastAPI could not decode.
        ApiError: 422 ``wrong_task``, 503 ``model_unavailable``.
    """
    started = scoring_clock()
    body = parse_score_request(raw)
    if not isinstance(body.trace.task, PerforationTask):
        raise ApiError(422, "wrong_task", "Phase A scores traces of a perforation task")
    models: ModelSet = state.store.current  # taken once: a reload never changes it mid-request
    if models.phase_a is None:
        raise ApiError(503, "model_unavailable", "no Phase A champion is loaded")
    decision = decide_phase_a(models.phase_a, body.trace.task, body.trace)
    telemetry: Telemetry = state.telemetry
    telemetry.count_scoring("a", scoring_clock() - started)
    telemetry.count_decision("a", decision.passed, decision.integrity)
    return decision


async def score_phase_a(request: Request) -> Response:
    """Score a Phase A trace with the champion Isolation Forest: score, decision, reasons, model version."""
    # The hot path (serving.score_requests): the token first, the body validated once from its bytes. Scoring
    # takes about a millisecond of numpy: cheaper on the event loop than a hop to the thread pool.
    check_token(request)
    return score_response(scored(request.app.state, await request.body()))


def answer(state: State, raw: bytes) -> bytes | None:
    """:func:`score_phase_a`'s answer to an accepted body, as bytes (for :class:`ScoreLane`); ``None`` for a body
    the route refuses, which then gives the refusal itself."""
    try:
        return score_bytes(scored(state, raw))
    except (RequestValidationError, HTTPException, ApiError):
        return None


def install(app: FastAPI) -> None:
    """Serves :func:`score_phase_a` at :data:`SCORE_PATH`, tried before the routers
    (:func:`serving.score_requests.add_score_route`), with :class:`ScoreLane` in front of it. Called before any
    other middleware is added, so the lane is the innermost one and the body limit and the request metrics
    still see every request."""
    route = add_score_route(app, SCORE_PATH, score_phase_a, tags=["phase-a"])
    app.add_middleware(ScoreLane, path=SCORE_PATH, route=route, state=app.state, serve=answer)
