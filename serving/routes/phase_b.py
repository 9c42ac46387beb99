"""Phase B: make checked image problems; score the drags that answer them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request, Response

from serving.auth import check_token, require_token
from serving.decisions import decide_phase_b
from serving.deps import AppSettings, Metrics, Models
from serving.errors import ApiError
from serving.models import ModelSet
from serving.schemas import ERROR_RESPONSES
from serving.score_requests import SCORE_REQUEST_BODY, read_score_request, score_response
from serving.telemetry import Telemetry
from tcurity.problems import ProblemAnswer, ProblemGenerationError
from tcurity.traces import GridTask
from tcurity.web import ai_api as api

router = APIRouter(prefix="/v1/phase-b", tags=["phase-b"])


def answer_for_backend(answer: ProblemAnswer) -> api.ProblemAnswerView:
    """What the backend keeps: the ordered answer and each tile's stamped number (never sent to clients)."""
    return api.ProblemAnswerView(
        problem_id=answer.problem_id,
        target=answer.target,
        answer=list(answer.answer),
        numbers=dict(answer.numbers),
    )


@router.post(
    "/problems",
    response_model=api.ProblemsResponse,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_token)],
)
async def create_problems(
    body: api.ProblemsRequest,
    models: Models,
    telemetry: Metrics,
    settings: AppSettings,
) -> api.ProblemsResponse:
    """Make Phase B problems checked by the champion classifier: the client view and the backend's answer."""
    if body.count > settings.max_problems_per_request:
        raise ApiError(
            422, "invalid_request", f"at most {settings.max_problems_per_request} problems per call"
        )
    if models.generator is None or models.effnet is None:
        raise ApiError(503, "bank_unavailable", "no problem bank or image model is loaded")
    try:
        made = await asyncio.to_thread(models.generator.generate_batch, body.count)
    except ProblemGenerationError as exc:
        raise ApiError(503, "bank_unavailable", str(exc)) from exc
    telemetry.decisions.labels("b", "problem").inc(len(made))
    return api.ProblemsResponse(
        problems=[
            api.Problem(client=api.ProblemView.model_validate(c.to_dict()), answer=answer_for_backend(a))
            for c, a in made
        ],
        model=api.ModelRef(name=models.effnet.name, version=models.effnet.version),
    )


@router.post(
    "/score", response_model=api.ScoreResponse, responses=ERROR_RESPONSES, openapi_extra=SCORE_REQUEST_BODY
)
async def score_phase_b(request: Request) -> Response:
    """Score a Phase B answer's drags with the champion Random Forest: score, decision, reasons, model version."""
    check_token(request)  # the hot path of serving.score_requests, as Phase A's
    body = await read_score_request(request)
    if not isinstance(body.trace.task, GridTask):
        raise ApiError(422, "wrong_task", "Phase B scores traces of a grid task")
    models: ModelSet = request.app.state.store.current
    if models.phase_b is None:
        raise ApiError(503, "model_unavailable", "no Phase B champion is loaded")
    decision = decide_phase_b(models.phase_b, body.trace.task, body.trace)
    telemetry: Telemetry = request.app.state.telemetry
    telemetry.count_decision("b", decision.passed, decision.integrity)
    return score_response(decision)
