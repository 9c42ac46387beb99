"""The backend's vocabulary: every error code it answers with, every reason code it gives an answer, and what the
browser SDK makes of each error code.

Errors travel as ``{"error": {"code", "message", "details"}}`` (:mod:`web.backend.app.core.errors`); a trace
that breaks the schema is refused with its own code (:data:`tcurity.traces.TRACE_CODES`, 422). siteverify answers
in its reCAPTCHA-compatible shape instead, with :data:`SITEVERIFY_ERROR_CODES`. The SDK's copy of this table
(``web/sdk/src/vocabulary.ts``) is generated from it by ``python -m web.backend.sdk_vocabulary``.

Reasons say why an answer failed (or passed unscored). They are kept with the session, reach siteverify's
``reasons`` and label the block metrics: the backend's own (:data:`FLOW_REASONS`), the task checks'
(:data:`tcurity.task_checks.REASONS`), the trace codes of an answer the AI server refused, and the AI server's
(``serving/codes.py``: browser signals, integrity, the models' ``<feature>_high``/``_low``).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from tcurity.task_checks import REASONS as TASK_CHECK_REASONS
from tcurity.traces import TRACE_CODES

# The SDK's error codes a backend code can turn into (`TcurityErrorCode`, web/sdk/src/errors.ts): what a page can
# do something about, not the server's internals.
SdkCode = Literal[
    "rate_limited",
    "invalid_sitekey",
    "origin_not_allowed",
    "session_expired",
    "blocked",
    "unavailable",
    "not_ready",
    "invalid_answer",
    "server_error",
]


class ErrorCode(NamedTuple):
    """One documented error: its HTTP status, when it is answered, and the SDK code a page sees for it."""

    status: int
    when: str
    sdk: SdkCode


ERRORS: dict[str, ErrorCode] = {
    "invalid_sitekey": ErrorCode(400, "the sitekey names no site", "invalid_sitekey"),
    "invalid_secret": ErrorCode(401, "missing or wrong site secret", "server_error"),
    "unauthorized": ErrorCode(401, "missing or wrong metrics token", "server_error"),
    "origin_not_allowed": ErrorCode(
        403, "the Origin is missing or not an allowed hostname of the site or session", "origin_not_allowed"
    ),
    "not_found": ErrorCode(404, "unknown path", "server_error"),
    "session_not_found": ErrorCode(404, "unknown or expired challenge session", "session_expired"),
    "method_not_allowed": ErrorCode(405, "wrong method", "server_error"),
    "invalid_state": ErrorCode(409, "the session's state does not allow this step", "session_expired"),
    "task_expired": ErrorCode(409, "the answer came after the task's time limit", "session_expired"),
    "attempts_exhausted": ErrorCode(409, "no attempt left in this phase or session", "blocked"),
    "conflict": ErrorCode(
        409, "the task was answered concurrently; only one answer counts", "session_expired"
    ),
    "collection_disabled": ErrorCode(409, "the site does not collect traces", "server_error"),
    "payload_too_large": ErrorCode(413, "request body over the size limit", "invalid_answer"),
    "unsupported_media_type": ErrorCode(
        415, "request body of a type this endpoint does not take", "invalid_answer"
    ),
    "invalid_request": ErrorCode(422, "the body does not match the schema", "invalid_answer"),
    "invalid_response": ErrorCode(422, "the pass token is malformed or forged", "server_error"),
    "wrong_task": ErrorCode(422, "the trace does not answer the task that was issued", "invalid_answer"),
    "rate_limited": ErrorCode(
        429,
        "too many requests, sessions or passes from this client, its network or for the site; see Retry-After",
        "rate_limited",
    ),
    "solve_budget_exhausted": ErrorCode(
        429, "too many Phase B problems for this IP or its network; see Retry-After", "rate_limited"
    ),
    "internal_error": ErrorCode(500, "an unexpected server error", "server_error"),
    "ai_unavailable": ErrorCode(
        503,
        "the AI server is unreachable or gave no usable answer; retry later (no pass is given)",
        "unavailable",
    ),
    "pool_empty": ErrorCode(
        503, "no Phase B problem is ready; retry after Retry-After (never a pass)", "unavailable"
    ),
    "service_not_ready": ErrorCode(
        503, "a model or the problem bank is missing on the AI server; not retryable in seconds", "not_ready"
    ),
    "store_unavailable": ErrorCode(503, "the session store is unreachable", "unavailable"),
}

# Every error code and when it is answered (the OpenAPI description lists them).
ERROR_CODES: dict[str, str] = {code: error.when for code, error in ERRORS.items()}

# The SDK code of every code the backend's error body can carry: its own, and the trace schema's (422).
SDK_CODES: dict[str, SdkCode] = {
    **{code: error.sdk for code, error in ERRORS.items()},
    **dict.fromkeys(TRACE_CODES, "invalid_answer"),
}

# siteverify's ``error-codes`` (reCAPTCHA's names where one exists), as its answer's type and documented.
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
    "client-mismatch",
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
    "client-mismatch": (
        "the site requires the verifying client to be the solving one (require_client_match): remoteip is"
        " missing or outside the solving client's /24 (/64), or user_agent differs"
    ),
}

# The backend's own reasons for an answer's verdict.
FLOW_REASONS: dict[str, str] = {
    "task_expired": "the answer came after the task's time limit",
    "wrong_task": "the trace does not answer the task that was issued",
    "trace_longer_than_elapsed": "the trace lasts longer than the time since the task was issued",
    "replayed_trace": "the trace's shape answered another session (the replay index)",
    "model_below_threshold": "the behaviour model failed the answer without naming a feature",
    "ai_unavailable": "passed unscored: the AI server was unreachable and the site fails open",
}

# Every reason the backend itself gives (the AI server's own come on top, see the module docstring).
REASONS: dict[str, str] = {**FLOW_REASONS, **TASK_CHECK_REASONS}
