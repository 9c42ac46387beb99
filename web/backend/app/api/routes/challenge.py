"""The challenge flow, called by the SDK in the protected site's pages (CORS: the sites' hostnames)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from web.backend.app.api.deps import ClientIp, OriginHost, Svc, UserAgent
from web.backend.app.schemas.challenge import (
    SESSION_ID_PATTERN,
    AnswerResult,
    CreateSessionRequest,
    PhaseAAnswer,
    PhaseATaskResponse,
    PhaseBAnswer,
    PhaseBProblemResponse,
    SessionResponse,
)
from web.backend.app.schemas.common import errors

router = APIRouter(prefix="/api/v1/challenge", tags=["challenge"])

SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="the id `POST /sessions` returned")]

_COMMON = (
    (403, "origin_not_allowed"),
    (404, "session_not_found"),
    (429, "rate_limited"),
    (503, "store_unavailable"),
)
_ANSWER = errors(
    *_COMMON,
    (409, "invalid_state, task_expired, conflict"),
    (422, "invalid_request, wrong_task, or a trace code (too_few_points, time_not_monotonic, …)"),
    (503, "ai_unavailable, service_not_ready, store_unavailable"),
)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionResponse,
    responses=errors(
        (400, "invalid_sitekey"), (403, "origin_not_allowed"), (422, "invalid_request"), (429, "rate_limited")
    ),
)
async def create_session(
    body: CreateSessionRequest, services: Svc, ip: ClientIp, host: OriginHost, ua: UserAgent
) -> SessionResponse:
    """Start a challenge session for a sitekey, from a page on one of the site's hostnames."""
    return await services.flow.create(body.sitekey, body.action, host, ip, ua)


@router.get("/sessions/{session_id}", response_model=SessionResponse, responses=errors(*_COMMON))
async def get_session(
    session_id: SessionId, services: Svc, ip: ClientIp, host: OriginHost
) -> SessionResponse:
    """A session's state, phases and attempts left."""
    return await services.flow.status(session_id, host, ip)


@router.post(
    "/sessions/{session_id}/phase-a",
    response_model=PhaseATaskResponse,
    responses=errors(*_COMMON, (409, "invalid_state, attempts_exhausted, conflict")),
)
async def issue_phase_a(
    session_id: SessionId, services: Svc, ip: ClientIp, host: OriginHost
) -> PhaseATaskResponse:
    """Issue a Phase A task: a fresh perforation and its time limit (uses one attempt)."""
    return await services.flow.issue_phase_a(session_id, host, ip)


@router.post("/sessions/{session_id}/phase-a/answer", response_model=AnswerResult, responses=_ANSWER)
async def answer_phase_a(
    session_id: SessionId, body: PhaseAAnswer, services: Svc, ip: ClientIp, host: OriginHost, ua: UserAgent
) -> AnswerResult:
    """Answer the Phase A task with the tear's trace; the outcome says what comes next."""
    return await services.flow.answer_phase_a(session_id, host, ip, body.trace, ua)


@router.post(
    "/sessions/{session_id}/phase-b",
    response_model=PhaseBProblemResponse,
    responses=errors(
        *_COMMON,
        (409, "invalid_state, attempts_exhausted, conflict"),
        (
            429,
            "rate_limited, solve_budget_exhausted (Phase B problems per IP and per /24 in the budget window)",
        ),
        (503, "pool_empty (retryable, see Retry-After), service_not_ready, store_unavailable"),
    ),
)
async def issue_phase_b(
    session_id: SessionId, services: Svc, ip: ClientIp, host: OriginHost, ua: UserAgent
) -> PhaseBProblemResponse:
    """Issue a Phase B problem made ahead of time (uses one attempt); no ready problem is `pool_empty`, never a
    pass."""
    return await services.flow.issue_phase_b(session_id, host, ip, ua)


@router.post("/sessions/{session_id}/phase-b/answer", response_model=AnswerResult, responses=_ANSWER)
async def answer_phase_b(
    session_id: SessionId, body: PhaseBAnswer, services: Svc, ip: ClientIp, host: OriginHost, ua: UserAgent
) -> AnswerResult:
    """Answer the Phase B problem with the tile ids in slot order and the drags' trace."""
    return await services.flow.answer_phase_b(session_id, host, ip, body, ua)
