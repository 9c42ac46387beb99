"""Phase A: score a tear along the perforation."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from serving.auth import require_token
from serving.decisions import decide_phase_a
from serving.deps import Metrics, Models
from serving.errors import ApiError
from serving.schemas import ERROR_RESPONSES, ScoreRequest, ScoreResponse
from tcurity.traces import PerforationTask

router = APIRouter(prefix="/v1/phase-a", tags=["phase-a"], dependencies=[Depends(require_token)])


@router.post("/score", response_model=ScoreResponse, responses=ERROR_RESPONSES)
async def score_phase_a(body: ScoreRequest, models: Models, telemetry: Metrics) -> ScoreResponse:
    """Score a Phase A trace with the champion Isolation Forest: score, decision, reasons, model version."""
    # Scoring takes about a millisecond of numpy: cheaper on the event loop than a hop to the thread pool.
    if not isinstance(body.trace.task, PerforationTask):
        raise ApiError(422, "wrong_task", "Phase A scores traces of a perforation task")
    if models.phase_a is None:
        raise ApiError(503, "model_unavailable", "no Phase A champion is loaded")
    decision = decide_phase_a(models.phase_a, body.trace.task, body.trace)
    telemetry.decisions.labels("a", "pass" if decision.passed else "block").inc()
    telemetry.count_integrity("a", decision.integrity)
    return ScoreResponse.model_validate(decision, from_attributes=True)
