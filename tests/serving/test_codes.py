"""The AI server's one list of codes (serving/codes.py) holds every code its source spells out."""

from __future__ import annotations

from serving.codes import ERROR_CODES, GEOMETRY_REASONS, REASONS
from tcurity.config import PROJECT_ROOT
from tcurity.task_checks import FOLLOW_REASONS
from tests.vocabulary import literal_args, undocumented

SERVING = PROJECT_ROOT / "serving"
SHARED = PROJECT_ROOT / "src/tcurity/web"  # the error contract and body limit both services use


def test_every_error_code_the_ai_server_raises_is_documented() -> None:
    raised = literal_args(SERVING, "ApiError", 1)
    assert undocumented(raised, set(ERROR_CODES)) == {}
    assert {"unauthorized", "wrong_task", "model_unavailable", "bank_unavailable"} <= set(raised)


def test_every_error_body_the_ai_server_builds_has_a_documented_code() -> None:
    built = {
        **literal_args(SERVING, "error_body", 0),
        **literal_args(SERVING, "_reject", 2),
        **literal_args(SHARED, "error_body", 0),
        **literal_args(SHARED, "reject", 2),
    }
    assert undocumented(built, set(ERROR_CODES)) == {}
    assert {"invalid_request", "payload_too_large"} <= set(built)


def test_the_geometry_reasons_are_the_task_checks_ones() -> None:
    assert {f"geometry_{r}" for r in FOLLOW_REASONS} | {"geometry_answer_shape"} == set(GEOMETRY_REASONS)
    assert {"untrusted_events", "missing_signals", "injected_input", "automation_env"} <= set(REASONS)
