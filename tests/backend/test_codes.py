"""The backend's one list of codes (web/backend/app/core/codes.py) holds every code its source spells out."""

from __future__ import annotations

import ast

from tcurity.config import PROJECT_ROOT
from tcurity.task_checks import REASONS as TASK_CHECK_REASONS
from tcurity.traces import TRACE_CODES
from tests.vocabulary import literal_args, undocumented
from web.backend.app.core.codes import ERROR_CODES, ERRORS, REASONS, SDK_CODES

BACKEND = PROJECT_ROOT / "web/backend/app"


def test_every_error_code_the_backend_raises_is_documented() -> None:
    raised = literal_args(BACKEND, "ApiError", 1)
    assert undocumented(raised, set(ERROR_CODES)) == {}
    assert {"invalid_sitekey", "rate_limited", "pool_empty"} <= set(raised)  # the scan sees them


def test_every_error_body_the_backend_builds_has_a_documented_code() -> None:
    shared = PROJECT_ROOT / "src/tcurity/web"  # the error contract and body limit both services use
    built = (
        literal_args(BACKEND, "error_body", 0)
        | literal_args(BACKEND, "reject", 2)
        | literal_args(shared, "error_body", 0)
        | literal_args(shared, "reject", 2)
    )
    assert undocumented(built, set(ERROR_CODES)) == {}
    assert {"internal_error", "store_unavailable", "payload_too_large"} <= set(built)


def test_every_reason_the_challenge_flow_spells_out_is_documented() -> None:
    flow = BACKEND / "services/challenge.py"
    spelled = {
        element.value
        for node in ast.walk(ast.parse(flow.read_text(encoding="utf-8")))
        if isinstance(node, ast.List)
        for element in node.elts
        if isinstance(element, ast.Constant) and isinstance(element.value, str)
    }
    reasons = spelled - {"phase_a", "phase_b"}  # the phases' names, listed by `_phases`
    assert reasons - set(REASONS) == set()
    assert {"replayed_trace", "trace_longer_than_elapsed", "task_expired"} <= reasons


def test_the_backend_reasons_include_every_task_check_reason() -> None:
    assert set(TASK_CHECK_REASONS) <= set(REASONS)


def test_every_code_of_an_error_body_has_an_sdk_code() -> None:
    assert set(SDK_CODES) == set(ERRORS) | set(TRACE_CODES)
    assert {SDK_CODES[code] for code in TRACE_CODES} == {"invalid_answer"}


def test_statuses_are_http_error_statuses() -> None:
    assert all(400 <= error.status < 600 for error in ERRORS.values())
