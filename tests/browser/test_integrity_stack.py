"""The integrity evidence through the whole stack: the SDK built into ``sdk.js`` sends it from a real page, the
backend and the AI server accept it, the integrity layer flags a Playwright-replayed tear, and both services count
the reasons (the site's default policy, ``log``, leaves the outcome to the behaviour model)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from redteam.browser import open_booking_form, play
from redteam.stack import Stack
from tcurity.data.adapter import to_perforation
from tcurity.integrity import assess
from tcurity.sampling import Path2
from tcurity.traces import Trace
from tests.browser.test_challenge import ANSWER_A, open_challenge, ticket_box


def metrics(url: str, token: str) -> str:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    response.raise_for_status()
    return response.text


def test_the_sdk_sends_its_evidence_and_the_stack_reports_injected_input(
    page: Any, stack: Stack, human_strokes: list[Path2]
) -> None:
    open_booking_form(page, stack)
    _, task = open_challenge(page)
    with page.expect_request(ANSWER_A) as sent, page.expect_response(ANSWER_A) as answered:
        play(page, ticket_box(page), to_perforation(human_strokes.pop(0), task), "cdp")
    assert answered.value.status == 200, answered.value.text()
    trace = Trace.model_validate(json.loads(sent.value.post_data or "{}")["trace"])
    points = trace.points
    n = len(points.x)
    assert points.screen_dx is not None and len(points.screen_dx) == n
    assert points.movement_x is not None and points.frame_ms is not None
    assert points.pressure is None and points.sub is None  # a mouse, driven over DevTools
    assert trace.env is not None and trace.env.webdriver is True and trace.env.headless is True
    assert assess(trace).reasons == ["injected_input", "automation_env"]

    ai = metrics(f"{stack.ai_url}/metrics", stack.ai_token)
    assert 'ai_integrity_total{code="injected_input",kind="reason",phase="a"}' in ai
    backend = metrics(f"{stack.backend_url}/api/metrics", stack.metrics_token)
    assert 'backend_integrity_total{action="log",phase="phase_a",reason="injected_input"}' in backend
