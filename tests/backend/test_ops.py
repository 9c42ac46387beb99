"""Operations: health, readiness, metrics, request ids and the OpenAPI contract the SDK is generated from."""

from __future__ import annotations

import logging

import pytest

from tcurity.sampling import Path2
from tests.backend.conftest import Backend, human_answer
from web.backend.app.core.logging import JsonFormatter


def test_health_and_readiness_report_their_parts(make_backend) -> None:
    backend: Backend = make_backend()
    assert backend.client.get("/api/health").json() == {"status": "ok"}
    ready = backend.client.get("/api/ready")
    body = ready.json()
    assert body["checks"]["store"] == {"ready": True}
    assert body["checks"]["sites"] == {"count": 1}
    # The AI server in tests holds only a Phase A champion, so it reports itself not ready.
    assert body["checks"]["ai_server"]["ready"] is False
    assert ready.status_code == 503
    backend.ai.down = True
    assert backend.client.get("/api/ready").json()["checks"]["ai_server"] == {
        "ready": False,
        "error": "ConnectError",
    }


def test_metrics_count_sessions_passes_and_blocks(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(metrics_token="metrics-token-0123456789")
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    backend.answer_a(sid, human_answer(passing_paths[0], task))
    assert backend.client.get("/api/metrics").json()["error"]["code"] == "unauthorized"
    text = backend.client.get(
        "/api/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"}
    ).text
    assert "backend_sessions_total 1.0" in text
    assert 'backend_passes_total{unscored="false"} 1.0' in text
    assert 'backend_answers_total{outcome="pass",phase="phase_a"} 1.0' in text
    assert (
        'backend_request_seconds_count{endpoint="/api/v1/challenge/sessions/{session_id}/phase-a/answer"} 1.0'
        in text
    )
    assert "backend_ai_seconds_bucket" in text


def test_every_response_carries_a_request_id_and_logs_are_json(
    make_backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    backend: Backend = make_backend()
    given = backend.client.get("/api/health", headers={"X-Request-ID": "abc-123-def"})
    assert given.headers["x-request-id"] == "abc-123-def"
    fresh = backend.client.get("/api/health", headers={"X-Request-ID": "bad id\n"})
    assert len(fresh.headers["x-request-id"]) == 16
    access = [r for r in caplog.records if r.name == "web.backend.access"]
    line = JsonFormatter().format(access[-1])
    assert line.startswith("{") and '"endpoint":"/api/health"' in line
    assert f'"request_id":"{fresh.headers["x-request-id"]}"' in line


def test_the_openapi_schema_documents_every_endpoint_and_error(make_backend) -> None:
    backend: Backend = make_backend()
    schema = backend.client.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/challenge/sessions",
        "/api/v1/challenge/sessions/{session_id}",
        "/api/v1/challenge/sessions/{session_id}/phase-a",
        "/api/v1/challenge/sessions/{session_id}/phase-a/answer",
        "/api/v1/challenge/sessions/{session_id}/phase-b",
        "/api/v1/challenge/sessions/{session_id}/phase-b/answer",
        "/api/v1/siteverify",
        "/api/v1/report",
        "/api/health",
        "/api/ready",
        "/api/metrics",
    }
    for path, methods in paths.items():
        for method, operation in methods.items():
            assert operation.get("summary") and operation.get("description"), (path, method)
    answer = paths["/api/v1/challenge/sessions/{session_id}/phase-a/answer"]["post"]
    assert {"403", "404", "409", "422", "429", "503"} <= set(answer["responses"])
    verify = paths["/api/v1/siteverify"]["post"]
    assert set(verify["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert "timeout-or-duplicate" in verify["description"]
    assert "error-codes" in schema["components"]["schemas"]["SiteverifyResponse"]["properties"]
    assert "ai_unavailable" in schema["info"]["description"]
