"""The AI server's API: its request and response bodies, in one place.

The AI server declares its routes with these models (its OpenAPI contract) and the backend's client
(``web.backend.app.services.ai_client``) parses the answers with the same ones, so the two cannot drift. The
Phase B problem's client view is also what the backend forwards to browsers (re-exported by
``web.backend.app.schemas.challenge``, named as the SDK's types know it).

Response models ignore keys they do not know (pydantic's default), so an AI server that adds a field does not
break an older backend; request models refuse them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tcurity.integrity import REASONS as INTEGRITY_REASONS
from tcurity.traces import Trace

TILE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_PROBLEMS_PER_CALL = 64


class ScoreRequest(BaseModel):
    """A trace to score."""

    model_config = ConfigDict(extra="forbid")
    trace: Trace


class ModelRef(BaseModel):
    name: str
    version: str


class IntegrityVerdict(BaseModel):
    """The input-integrity layer's verdict (docs/integrity.md); it never changes ``passed``."""

    name: str
    version: str
    reasons: list[str] = Field(
        max_length=len(INTEGRITY_REASONS),
        description="injected_input, automation_env (empty when nothing was found)",
    )
    tells: list[str] = Field(description="the individual tells found (each weak alone)")
    evaluated: list[str] = Field(description="the checks the trace's evidence allowed")


class ScoreResponse(BaseModel):
    """The decision for one trace."""

    score: float = Field(description="human-likeness (higher is more human); compare with threshold")
    passed: bool
    threshold: float
    reasons: list[str] = Field(description="why it did not pass (empty on a pass)")
    checks: dict[str, Any]
    model: ModelRef
    integrity: IntegrityVerdict


class ProblemsRequest(BaseModel):
    """How many Phase B problems to make."""

    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=MAX_PROBLEMS_PER_CALL)] = 1


class TargetView(BaseModel):
    """The class asked for, by its display names only (the class key stays on the server: review 8)."""

    en: str
    ko: str


class PromptView(BaseModel):
    """The instruction in English and Korean."""

    en: str
    ko: str


class GridView(BaseModel):
    rows: Annotated[int, Field(ge=1, le=3)]
    cols: Annotated[int, Field(ge=1, le=3)]


class TileView(BaseModel):
    """One grid cell: an opaque id (fresh per problem), its position (row-major 0–8) and the image."""

    tile_id: Annotated[str, Field(pattern=TILE_ID_PATTERN)]
    position: Annotated[int, Field(ge=0, le=8)]
    image: Annotated[str, Field(pattern=r"^data:image/(jpeg|png|webp);base64,", max_length=200_000)]


class ProblemView(BaseModel):
    """The Phase B problem as the browser sees it: nothing says which tile is which class or number."""

    problem_id: str
    target: TargetView
    prompt: PromptView
    grid: GridView
    tiles: Annotated[list[TileView], Field(min_length=1, max_length=9)]


class ProblemAnswerView(BaseModel):
    """What the backend keeps of a problem (never sent to browsers): the target tiles in the order of their
    stamped numbers, and every tile's number."""

    problem_id: str
    target: str
    answer: Annotated[list[str], Field(min_length=1, max_length=9)]
    numbers: dict[str, int]


class Problem(BaseModel):
    """One problem: the client view (safe to forward) and the answer (backend only)."""

    client: ProblemView
    answer: ProblemAnswerView


class ProblemsResponse(BaseModel):
    problems: list[Problem]
    model: ModelRef
