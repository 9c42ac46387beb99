"""report's bodies: a site labels a past challenge (what it learned later) for training."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from web.backend.app.schemas.challenge import SESSION_ID_PATTERN
from web.backend.app.services.collect import Label


class ReportRequest(BaseModel):
    """The site's secret, which challenge (its pass token, or its session id), and the label."""

    model_config = ConfigDict(extra="forbid")
    secret: Annotated[str, Field(min_length=1, max_length=256)]
    response: Annotated[str, Field(max_length=4096, description="the pass token (may be expired)")] | None = (
        None
    )
    session_id: Annotated[str, Field(pattern=SESSION_ID_PATTERN)] | None = None
    label: Label = Field(
        description="ground truth from the site; `confirmed_human` is human, the rest are bots"
    )

    @model_validator(mode="after")
    def _one_reference(self) -> ReportRequest:
        if (self.response is None) == (self.session_id is None):
            raise ValueError("send exactly one of response and session_id")
        return self


class ReportResponse(BaseModel):
    """How many collected traces the label now applies to."""

    labelled: int
    label: Label
