"""siteverify's bodies: a superset of reCAPTCHA's, hCaptcha's and Turnstile's, so their server libraries work.

The request comes as ``application/x-www-form-urlencoded`` (as those libraries send it) or JSON. The answer is
always this shape, including for refusals; HTTP 200 except 429 (rate limited, with ``Retry-After``).

The pass token is an opaque handle: scores, reasons and model versions are only ever returned here.

Client binding: a pass records the solving client's network (``/24`` of IPv4, ``/64`` of IPv6) and a keyed
digest of its ``User-Agent``. With ``remoteip`` (the address the site's server saw) the network is compared;
with ``user_agent`` (the ``User-Agent`` header it saw) the digest is compared. Neither is required: what was
not sent is not compared (``client_match`` is ``null`` when nothing was). A site whose policy sets
``require_client_match`` gets ``client-mismatch`` instead of a pass on a mismatch, or when ``remoteip`` is
missing.

Idempotency: a retry with the same ``idempotency_key`` and token gets the answer of the first call instead of
``timeout-or-duplicate``, re-checked against the retry (``sitekey``, ``expected_action``, ``remoteip``,
``user_agent``) and only while the token lives (plus a few seconds). The key must be a nonce the site's server
makes for one verification request (a random id per booking attempt), never derived from the token nor taken
from the client: anyone who can repeat the key can repeat the answer while the token lives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from web.backend.app.core.codes import SiteverifyErrorCode
from web.backend.app.core.security import MAX_VERIFY_USER_AGENT_CHARS


class SiteverifyRequest(BaseModel):
    """What the site's server sends (unknown fields are ignored, as the other services do)."""

    model_config = ConfigDict(extra="ignore")
    secret: Annotated[str, Field(max_length=256, description="the site's secret")] | None = None
    response: Annotated[str, Field(max_length=4096, description="the pass token from the browser")] | None = (
        None
    )
    remoteip: (
        Annotated[
            str,
            Field(
                max_length=64,
                description="optional: the end user's IP address; compared with the solving client's /24 (/64)",
            ),
        ]
        | None
    ) = None
    user_agent: (
        Annotated[
            str,
            Field(
                max_length=MAX_VERIFY_USER_AGENT_CHARS,
                description=(
                    "optional: the end user's User-Agent header (up to 8,192 characters); its first 512"
                    " characters are compared with the solving client's"
                ),
            ),
        ]
        | None
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
                description=(
                    "optional: a retry with the same key (and token) gets the same answer instead of a"
                    " duplicate, while the token lives; must be a server-side nonce per verification request,"
                    " never derived from the token or taken from the client"
                ),
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
    client_match: bool | None = Field(
        default=None,
        description=(
            "whether `remoteip` / `user_agent` match the solving client (`null`: neither was sent);"
            " a refusal only with the site's `require_client_match`"
        ),
    )
    client_mismatch: list[Literal["ip", "user_agent"]] = Field(
        default_factory=list, description="what differed from the solving client"
    )
