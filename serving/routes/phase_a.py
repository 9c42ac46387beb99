"""Phase A: score a tear along the perforation."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from serving.auth import check_token
from serving.decisions import decide_phase_a
from serving.errors import ApiError
from serving.models import ModelSet
from serving.score_requests import add_score_route, parse_score_request, score_response, scoring_clock
from serving.telemetry import Telemetry
from tcurity.traces import PerforationTask

SCORE_PATH = "/v1/phase-a/score"


async def score_phase_a(request: Request) -> Response:
    """Score a Phase A trace with the champion Isolation Forest: score, decision, reasons, model version."""
    # The hot path (serving.score_requests): the token first, the body validated once from its bytes. Scoring
    # takes about a millisecond of numpy: cheaper on the event loop than a hop to the thread pool.
    check_token(request)
    raw = await request.body()
    started = scoring_clock()
    body = parse_score_request(raw)
    if not isinstance(body.trace.task, PerforationTask):
        raise ApiError(422, "wrong_task", "Phase A scores traces of a perforation task")
    models: ModelSet = request.app.state.store.current  # taken once: a reload never changes it mid-request
    if models.phase_a is None:
        raise ApiError(503, "model_unavailable", "no Phase A champion is loaded")
    decision = decide_phase_a(models.phase_a, body.trace.task, body.trace)
    telemetry: Telemetry = request.app.state.telemetry
    telemetry.count_scoring("a", scoring_clock() - started)
    telemetry.count_decision("a", decision.passed, decision.integrity)
    return score_response(decision)


def install(app: FastAPI) -> None:
    """Serves :func:`score_phase_a` at :data:`SCORE_PATH`, the route FastAPI tries first
    (:func:`serving.score_requests.add_score_route`)."""
    add_score_route(app, SCORE_PATH, score_phase_a, tags=["phase-a"])
