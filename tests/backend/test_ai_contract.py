"""The backend's AI client reads the AI server's answers with the AI server's own response models
(:mod:`tcurity.web.ai_api`): what the server encodes, the client takes; what is not the contract fails closed.

The AI server's side is real: its decision for a recorded trace, encoded by its score endpoint's own function,
served over an ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving.decisions import Decision
from serving.score_requests import score_response
from tcurity.traces import Trace
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.ai_client import AiClient, AiDecision, AiFailedError

TRACE = Trace.model_validate_json(
    (Path(__file__).parents[1] / "fixtures/integrity/cdp_headed.json").read_text()
)
DECISION = Decision(
    score=-0.42,
    passed=False,
    threshold=-0.5,
    reasons=["untrusted_events"],
    checks={"geometry": {"passed": True}},
    model={"name": "tcurity-phase-a-iforest", "version": "7"},
    integrity={
        "name": "tcurity-integrity",
        "version": "3",
        "reasons": ["injected_input", "automation_env"],
        "tells": ["coalesced_single", "automation_env"],
        "evaluated": ["coalesced_single", "automation_env"],
    },
)


def score_with(body: bytes) -> AiDecision:
    """The client's reading of ``body`` as the AI server's 200 answer to a Phase A score."""

    async def answer(_: Request) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/v1/phase-a/score", answer, methods=["POST"])])

    async def call() -> AiDecision:
        client = AiClient("http://ai", "t" * 24, 5.0, Telemetry(), transport=httpx.ASGITransport(app=app))
        try:
            return await client.score("phase_a", TRACE)
        finally:
            await client.close()

    return asyncio.run(call())


def test_the_client_reads_what_the_score_endpoint_encodes() -> None:
    decision = score_with(bytes(score_response(DECISION).body))
    assert decision == AiDecision(
        score=-0.42,
        passed=False,
        threshold=-0.5,
        reasons=["untrusted_events"],
        model="tcurity-phase-a-iforest@7",
        integrity=("injected_input", "automation_env"),
        integrity_model="tcurity-integrity@3",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"integrity": None},  # the integrity part is part of the contract
        {"model": {"name": "x"}},
        {"passed": "maybe"},
        {"integrity": {**DECISION.integrity, "reasons": ["injected_input"] * 3}},  # more reasons than exist
    ],
)
def test_an_answer_outside_the_contract_fails_closed(change: dict[str, Any]) -> None:
    body = json.loads(bytes(score_response(DECISION).body)) | change
    with pytest.raises(AiFailedError):
        score_with(json.dumps({k: v for k, v in body.items() if v is not None}).encode())
