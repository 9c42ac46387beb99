"""siteverify's bodies: a superset of reCAPTCHA's, hCaptcha's and Turnstile's, so their server libraries work.

The request comes as ``application/x-www-form-urlencoded`` (as those libraries send it) or JSON. The answer is
always this shape, including for refusals; HTTP 200 except 429 (rate limited, with ``Retry-After``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SiteverifyErrorCode = Literal[
    "missing-input-secret",
    "invalid-input-secret",
    "missing-input-response",
    "invalid-input-response",
    "timeout-or-duplicate",
    "action-mismatch",
    "sitekey-mismatch",
    "bad-request",
    "rate-limited",
]

SITEVERIFY_ERROR_CODES: dict[str, str] = {
    "missing-input-secret": "no secret was sent",
    "invalid-input-secret": "the secret is not a site's (wrong secrets are rate-limited per IP)",
    "missing-input-response": "no token was sent",
    "invalid-input-response": "the token is malformed or forged",
    "timeout-or-duplicate": "the token expired (120 s) or was verified already",
    "action-mismatch": "the token was issued for another action than expected_action",
    "sitekey-mismatch": "the token belongs to another site than the secret (or the sitekey sent)",
    "bad-request": "the request is malformed, or its idempotency key was used with another token",
    "rate-limited": "too many wrong secrets from this IP; see Retry-After (HTTP 429)",
}


class SiteverifyRequest(BaseModel):
    """What the site's server sends (unknown fields are ignored, as the other services do)."""

    model_config = ConfigDict(extra="ignore")
    secret: Annotated[str, Field(max_length=256, description="the site's secret")] | None = None
    response: Annotated[str, Field(max_length=4096, description="the pass token from the browser")] | None = (
        None
    )
    remoteip: (
        Annotated[str, Field(max_length=64, description="accepted for compatibility; not used")] | None
    ) = None
    sitekey: (
        Annotated[str, Field(max_length=64, description="optional: the token must be of this sitekey")] | None
    ) = None
    expected_action: (
        Annotated[str, Field(max_length=64, description="optional: the token's action must be this")] | None
    ) = None
    idempotency_key: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=128,
                description="optional: a retry with the same key (and token) gets the same answer instead of a duplicate",
            ),
        ]
        | None
    ) = None


class PhaseScore(BaseModel):
    """A phase's behaviour score on its model's scale (higher is more human) and the threshold it met."""

    score: float
    threshold: float


class SiteverifyResponse(BaseModel):
    """The verdict on one token."""

    model_config = ConfigDict(populate_by_name=True)
    success: bool
    challenge_ts: datetime | None = Field(
        default=None, description="when the challenge was passed (ISO 8601)"
    )
    hostname: str | None = Field(default=None, description="the hostname the challenge was solved on")
    action: str | None = None
    error_codes: list[SiteverifyErrorCode] = Field(default_factory=list, alias="error-codes")
    score: float | None = Field(
        default=None,
        description="the last scored phase's behaviour score (see `scores` for each phase's threshold)",
    )
    scores: dict[str, PhaseScore] = Field(
        default_factory=dict, description="per phase (`phase_a`, `phase_b`)"
    )
    reasons: list[str] = Field(
        default_factory=list,
        description="reason codes seen in the session: failed attempts, `ai_unavailable`",
    )
    models: dict[str, str] = Field(
        default_factory=dict, description="`name@version` of each model that decided, per phase"
    )
    unscored: bool = Field(
        default=False, description="a phase passed without a model's score (the site's fail-open policy)"
    )
