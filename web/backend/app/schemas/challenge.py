"""The challenge flow's bodies: sessions, Phase A tasks and answers, Phase B problems and answers.

A session moves ``created → phase_a → phase_b → passed`` (``phase_b`` is skipped for sites whose policy is
``phase_b: never``) or ends ``blocked`` when its attempts run out. Every task is issued with a time limit that
the server enforces exactly as told; every answer is taken once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tcurity.traces import GridTask, PerforationTask, Trace

# The Phase B problem's view is the AI server's (tcurity.web.ai_api): the backend forwards it as made.
from tcurity.web.ai_api import TILE_ID_PATTERN, ProblemView

State = Literal["created", "phase_a", "phase_b", "passed", "blocked"]
PhaseName = Literal["phase_a", "phase_b"]
Outcome = Literal["passed", "next_phase", "retry", "blocked"]

SITEKEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
ACTION_PATTERN = r"^[A-Za-z0-9_./-]{0,64}$"
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"

_STRICT = ConfigDict(extra="forbid")


class CreateSessionRequest(BaseModel):
    """Start a challenge for a site's page (the ``Origin`` must be one of the site's hostnames)."""

    model_config = _STRICT
    sitekey: Annotated[str, Field(pattern=SITEKEY_PATTERN, description="the site's public key")]
    action: Annotated[
        str,
        Field(
            pattern=ACTION_PATTERN,
            description="what the pass is for (e.g. `checkout`); siteverify returns it and can require it",
        ),
    ] = ""


class AttemptsLeft(BaseModel):
    """Tasks that may still be issued: in the session's current phase, and in the whole session."""

    phase: int
    session: int


class SessionResponse(BaseModel):
    """A session's state and what it will ask."""

    session_id: str = Field(description="the session's id (a capability: keep it in the page only)")
    state: State
    expires_at: datetime = Field(description="when the session ends, whatever its state")
    phases: list[PhaseName] = Field(description="the phases this site asks, in order")
    attempts_left: AttemptsLeft


class PhaseATaskResponse(BaseModel):
    """A Phase A task: tear the ticket along this perforation before ``expires_at``."""

    state: State
    task: PerforationTask = Field(description="the geometry; the answer's trace must carry exactly this task")
    time_limit_ms: int = Field(description="time allowed from issue to answer (enforced as told)")
    expires_at: datetime
    attempts_left: AttemptsLeft


class PhaseAAnswer(BaseModel):
    """The trace that answers the current Phase A task."""

    model_config = _STRICT
    trace: Trace


class PhaseBProblemResponse(BaseModel):
    """A Phase B problem: drag the target tiles into the slots in number order before ``expires_at``."""

    state: State
    problem: ProblemView
    task: GridTask = Field(description="the layout; the answer's trace must carry exactly this task")
    time_limit_ms: int = Field(description="time allowed from issue to answer (enforced as told)")
    expires_at: datetime
    attempts_left: AttemptsLeft


class PhaseBAnswer(BaseModel):
    """The answer to the current Phase B problem: the tile ids in slot order, and the drags' trace."""

    model_config = _STRICT
    tile_ids: Annotated[
        list[Annotated[str, Field(pattern=TILE_ID_PATTERN)]],
        Field(
            min_length=1, max_length=9, description="tile ids in the order they were dragged into the slots"
        ),
    ]
    trace: Trace


class AnswerResult(BaseModel):
    """What an answer led to. Reasons stay on the server (siteverify tells the site); the browser learns the outcome.

    ``next_phase``: ask for the next phase's task; ``retry``: ask for a new task of the same phase;
    ``passed``: ``token`` goes to the site's server, which calls siteverify; ``blocked``: no attempt left.
    """

    outcome: Outcome
    state: State
    attempts_left: AttemptsLeft
    token: str | None = Field(default=None, description="the pass token (outcome `passed` only)")
    token_expires_at: datetime | None = None
