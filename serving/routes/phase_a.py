"""Phase A: score a tear along the perforation."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from serving.auth import check_token
from serving.decisions import decide_phase_a
from serving.errors import ApiError
from serving.models import ModelSet
from serving.schemas import ERROR_RESPONSES, ScoreResponse
from serving.score_requests import SCORE_REQUEST_BODY, read_score_request, score_response
from serving.telemetry import Telemetry
from tcurity.traces import PerforationTask

router = APIRouter(prefix="/v1/phase-a", tags=["phase-a"])


@router.post(
    "/score", response_model=ScoreResponse, responses=ERROR_RESPONSES, openapi_extra=SCORE_REQUEST_BODY
)
async def score_phase_a(request: Request) -> Response:
    """Score a Phase A trace with the champion Isolation Forest: score, decision, reasons, model version."""
    # The hot path (serving.score_requests): the token first, the body validated once from its bytes. Scoring
    # takes about a millisecond of numpy: cheaper on the event loop than a hop to the thread pool.
    check_token(request)
    body = await read_score_request(request)
    if not isinstance(body.trace.task, PerforationTask):
        raise ApiError(422, "wrong_task", "Phase A scores traces of a perforation task")
    models: ModelSet = request.app.state.store.current  # taken once: a reload never changes it mid-request
    if models.phase_a is None:
        raise ApiError(503, "model_unavailable", "no Phase A champion is loaded")
    decision = decide_phase_a(models.phase_a, body.trace.task, body.trace)
    telemetry: Telemetry = request.app.state.telemetry
    telemetry.count_decision("a", decision.passed, decision.integrity)
    return score_response(decision)
