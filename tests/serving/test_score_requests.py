"""The score endpoints' hot path (serving.score_requests): the token before the body, FastAPI's exact errors for
refused bodies, the body limit on streamed bodies, and the request body in the OpenAPI document.

No model is needed: every request here is answered before scoring (the app runs without its lifespan).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Request, Response
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.score_requests import ScoreRoute, fastapi_errors
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
