"""The score endpoints' hot path (serving.score_requests): the token before the body, FastAPI's exact errors for
refused bodies, the body limit on streamed bodies, and the request body in the OpenAPI document.

No model is needed: every request here is answered before scoring (the app runs without its lifespan).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request, Response
from fastapi.testclient import TestClient
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from serving.app import create_app
from serving.score_requests import ScoreLane, ScoreRoute, fastapi_errors
from tests.serving.conftest import AUTH, settings

FIXTURES = Path(__file__).parents[1] / "fixtures/integrity"
PATHS = ("/v1/phase-a/score", "/v1/phase-b/score")
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def bare() -> TestClient:
    """The AI server without its lifespan (no model loaded)."""
    return TestClient(create_app(settings()))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("raw", [b"", b"not json", b"[[[", b"[" * 5000 + b"]" * 5000, b"{}"])
def test_an_unauthenticated_caller_gets_401_whatever_the_body(
    bare: TestClient, path: str, raw: bytes
) -> None:
    """The token is checked before the body is read: a caller without it learns nothing about the parser
    (FastAPI decoded the JSON first: a malformed body got 422, a too deeply nested one 400)."""
    response = bare.post(path, content=raw, headers=JSON)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", PATHS)
def test_a_streamed_body_over_the_limit_is_payload_too_large(path: str) -> None:
    """A chunked body (no Content-Length) that passes the limit while it is read gets the documented 413
    (FastAPI's body reading turned the limit's signal into a 400 ``http_error``)."""
    small = TestClient(create_app(settings(max_body_bytes=2048)))

    def chunks() -> Iterator[bytes]:
        yield b'{"trace": "' + b"a" * 1500
        yield b"a" * 1500 + b'"}'

    response = small.post(path, content=chunks(), headers={**AUTH, **JSON})
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "request bodies are limited to 2048 bytes",
        "details": None,
    }


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        (b"", [{"loc": ["body"], "type": "missing", "msg": "Field required"}]),
        (b"not json", [{"loc": ["body", 0], "type": "json_invalid", "msg": "JSON decode error"}]),
        (b'{"trace": ', [{"loc": ["body", 10], "type": "json_invalid", "msg": "JSON decode error"}]),
        (
            b"[]",
            [
                {
                    "loc": ["body"],
                    "type": "model_attributes_type",
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                }
            ],
        ),
        (b"{}", [{"loc": ["body", "trace"], "type": "missing", "msg": "Field required"}]),
        (
            b'{"trace": 1}',
            [
                {
                    "loc": ["body", "trace"],
                    "type": "model_attributes_type",
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                }
            ],
        ),
    ],
)
def test_refused_bodies_keep_fastapis_errors(bare: TestClient, raw: bytes, details: list[object]) -> None:
    response = bare.post(PATHS[0], content=raw, headers={**AUTH, **JSON})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"] == details


def test_a_trace_check_keeps_its_own_code(bare: TestClient) -> None:
    trace = json.loads((FIXTURES / "os_xdotool.json").read_text())
    trace["points"]["t_ms"][2] = trace["points"]["t_ms"][1] - 1.0
    response = bare.post(PATHS[0], json={"trace": trace}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "time_not_monotonic"


def test_a_body_only_the_standard_decoder_reads_is_still_taken() -> None:
    """pydantic-core refuses a byte-order mark; FastAPI's decoder read it, so the request stands as before."""
    trace = (FIXTURES / "os_xdotool.json").read_text()
    errors, parsed = fastapi_errors(("\ufeff" + '{"trace": ' + trace + "}").encode())
    assert errors == []
    assert parsed is not None
    assert parsed.trace.points.x[0] == json.loads(trace)["points"]["x"][0]


def test_the_request_body_is_documented(bare: TestClient) -> None:
    spec = create_app(settings(tcurity_env="test")).openapi()
    for path in PATHS:
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScoreRequest"}
    schemas = spec["components"]["schemas"]
    assert schemas["ScoreRequest"]["properties"]["trace"] == {"$ref": "#/components/schemas/Trace"}
    assert {"Trace", "TracePoints", "PerforationTask", "GridTask", "ScoreResponse"} <= set(schemas)


def test_a_score_route_must_be_a_coroutine_of_the_request() -> None:
    """A ScoreRoute calls its endpoint with the request and awaits it: a plain function is refused when the route
    is built, not on the first request."""

    def plain(request: Request) -> Response:
        return Response(b"{}")

    with pytest.raises(TypeError, match="coroutine function"):
        ScoreRoute("/v1/x", plain, methods=["POST"])


class Inner:
    """An inner ASGI app that records what reached it (the request's path and the body it read) and answers 418."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def lane_call(
    lane: ScoreLane, path: str, chunks: list[bytes], token: str | None
) -> tuple[int, bytes, dict[str, Any]]:
    """One request through ``lane``, its body in ``chunks``: the status, the body answered and the scope."""
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": path, "headers": headers}
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(lane(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), scope


LANE_TOKEN = "lane-token-0123456789abcdef"


@pytest.fixture
def lane_parts() -> tuple[ScoreLane, Inner, list[bytes]]:
    """A lane on ``/score`` in front of :class:`Inner`, serving ``ok:<body>`` for a body starting ``good``."""
    inner = Inner()
    served: list[bytes] = []

    def serve(state: State, raw: bytes) -> bytes | None:
        served.append(raw)
        return b"ok:" + raw if raw.startswith(b"good") else None

    state = State({"settings": settings(ai_server_token=LANE_TOKEN)})
    route = create_app(settings()).router.routes[-1]
    lane = ScoreLane(inner, "/score", route, state, serve)  # type: ignore[arg-type]
    return lane, inner, served


def test_the_lane_answers_an_accepted_body_itself_and_labels_the_route(
    lane_parts: tuple[ScoreLane, Inner, list[bytes]],
) -> None:
    lane, inner, served = lane_parts
    status, body, scope = lane_call(lane, "/score", [b"go", b"od body"], LANE_TOKEN)
    assert (status, body) == (200, b"ok:good body")
    assert served == [b"good body"]
    assert inner.seen == []
    assert scope["route"] is lane.route


def test_the_lane_hands_a_refused_body_to_the_app_played_back_whole(
    lane_parts: tuple[ScoreLane, Inner, list[bytes]],
) -> None:
    lane, inner, served = lane_parts
    status, body, _ = lane_call(lane, "/score", [b"bad ", b"body"], LANE_TOKEN)
    assert (status, body) == (418, b"inner")
    assert served == [b"bad body"]
    assert inner.seen == [("/score", b"bad body")]


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef"])
def test_without_the_token_the_lane_reads_nothing_and_hands_over(
    lane_parts: tuple[ScoreLane, Inner, list[bytes]], token: str | None
) -> None:
    lane, inner, served = lane_parts
    status, _, _ = lane_call(lane, "/score", [b"good body"], token)
    assert status == 418
    assert served == []
    assert inner.seen == [("/score", b"good body")]


def test_other_paths_go_straight_to_the_app(lane_parts: tuple[ScoreLane, Inner, list[bytes]]) -> None:
    lane, inner, served = lane_parts
    status, _, _ = lane_call(lane, "/other", [b"good body"], LANE_TOKEN)
    assert status == 418
    assert served == []
    assert inner.seen == [("/other", b"good body")]
