"""The AI server's vocabulary: every error code it answers with and every reason code its decisions give.

Errors travel as ``{"error": {"code", "message", "details"}}`` (:mod:`serving.errors`); a trace that breaks the
schema is refused 422 with its own code (:data:`tcurity.traces.TRACE_CODES`).

A decision's ``reasons`` say which part failed a trace: the browser signals (:data:`SIGNAL_REASONS`), the task
geometry (the ``geometry_*`` codes of :data:`tcurity.task_checks.REASONS`) and the behaviour model's own
``<feature>_high`` / ``<feature>_low`` for the features furthest outside the human range. The integrity layer's
reasons (:data:`INTEGRITY_REASONS`) travel apart, in the decision's ``integrity`` part, and never change
``passed``.
"""

from __future__ import annotations

from tcurity.integrity import REASONS as INTEGRITY_CODES
from tcurity.task_checks import REASONS as TASK_CHECK_REASONS

ERROR_CODES: dict[str, str] = {
    "unauthorized": "missing or wrong service token",
    "not_found": "unknown path",
    "method_not_allowed": "wrong method",
    "payload_too_large": "request body over the size limit",
    "unsupported_media_type": "request body is not JSON",
    "invalid_request": "the body does not match the schema",
    "wrong_task": "the trace answers another phase's task",
    "model_unavailable": "the model this call needs is not loaded",
    "bank_unavailable": "the Phase B problem bank is missing or empty",
    "http_error": "any other HTTP refusal of the framework (its status says which)",
}

UNTRUSTED_EVENTS = "untrusted_events"
MISSING_SIGNALS = "missing_signals"
SIGNAL_REASONS: dict[str, str] = {
    UNTRUSTED_EVENTS: "the browser marked events as synthetic (isTrusted false)",
    MISSING_SIGNALS: "the browser signals the SDK always sends are absent, or only half of them",
}

GEOMETRY_REASONS: dict[str, str] = {
    code: text for code, text in TASK_CHECK_REASONS.items() if code.startswith("geometry_")
}

INTEGRITY_REASONS: dict[str, str] = dict(
    zip(
        INTEGRITY_CODES,
        (
            "enough independent tells agree that the events were injected, not made by an input device",
            "the browser says it is driven by automation (navigator.webdriver and the like)",
        ),
        strict=True,
    )
)

# The suffixes of the behaviour model's reasons (``<feature>_high``, ``<feature>_low``).
MODEL_REASON_SUFFIXES = ("_high", "_low")

# Every fixed reason a decision can give (the model's are ``<feature>`` + a suffix above).
REASONS: dict[str, str] = {**SIGNAL_REASONS, **GEOMETRY_REASONS, **INTEGRITY_REASONS}
