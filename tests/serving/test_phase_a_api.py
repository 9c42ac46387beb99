"""The AI server against a real registry: scoring, auth, validation codes, readiness, hot reload."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.score_requests import ScoreRoute
from tcurity.config import params
from tcurity.geometry import grid_layout, random_perforation
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_a_trace, phase_b_trace
from tcurity.traces import make_trace
from tests.serving.conftest import AUTH, PHASE_A, human_trace, promote, settings, train_and_register

FIXTURES = Path(__file__).parents[1] / "fixtures/integrity"
URL = "/v1/phase-a/score"


@pytest.fixture(scope="module")
def champion(module_champion: str) -> str:
    """These tests only read the registry: one champion for the module, each test on a fresh app."""
    return module_champion


def body_of(trace: Any) -> dict[str, Any]:
    return {"trace": trace.model_dump(mode="json")}


def teleport_body(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    task = random_perforation(rng)
    return body_of(make_trace(phase_a_trace(task, "teleport", rng), task))


def test_a_human_tear_is_scored_with_the_champion(
    client: TestClient, human_paths: list[Path2], champion: str
) -> None:
    response = client.post(URL, json=body_of(human_trace(human_paths[0], 5)), headers=AUTH)
    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"score", "passed", "threshold", "reasons", "checks", "model", "integrity"}
    assert payload["model"] == {"name": PHASE_A, "version": champion}
    assert payload["integrity"]["name"] == "tcurity-integrity"
    assert payload["integrity"]["version"] == params().integrity.version
    assert -1.0 <= payload["score"] <= 0.0
    assert payload["checks"]["geometry"]["passed"] is True


def test_most_human_tears_pass_and_a_teleport_is_blocked_with_reasons(
    client: TestClient, human_paths: list[Path2]
) -> None:
    passed = [
        client.post(URL, json=body_of(human_trace(p, i)), headers=AUTH).json()["passed"]
        for i, p in enumerate(human_paths[-40:])
    ]
    assert np.mean(passed) >= 0.8
    blocked = client.post(URL, json=teleport_body(), headers=AUTH).json()
    assert blocked["passed"] is False
    assert blocked["reasons"], "a block always says why"


def test_untrusted_events_are_blocked(client: TestClient, human_paths: list[Path2]) -> None:
    body = body_of(human_trace(human_paths[0], 5))
    body["trace"]["points"]["trusted"] = [False] * len(body["trace"]["points"]["x"])
    payload = client.post(URL, json=body, headers=AUTH).json()
    assert payload["passed"] is False
    assert "untrusted_events" in payload["reasons"]


def test_auth_is_required_and_checked(client: TestClient) -> None:
    assert client.post(URL, json=teleport_body()).json()["error"]["code"] == "unauthorized"
    wrong = client.post(URL, json=teleport_body(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/version").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/health").status_code == 200


def test_trace_errors_return_their_code(client: TestClient) -> None:
    body = teleport_body()
    points = body["trace"]["points"]
    points["t_ms"] = list(reversed(points["t_ms"]))
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "time_not_monotonic"

    short = teleport_body()
    for key in ("x", "y", "t_ms", "event"):
        short["trace"]["points"][key] = short["trace"]["points"][key][:2]
    assert client.post(URL, json=short, headers=AUTH).json()["error"]["code"] == "too_few_points"


def test_malformed_bodies_are_4xx_never_5xx(client: TestClient) -> None:
    cases = [
        (b"{not json", "application/json", 422, "invalid_request"),
        (b'{"trace": {"points": {"x": [NaN]}}}', "application/json", 422, "invalid_request"),
        (b'{"trace": 5}', "application/json", 422, "invalid_request"),
        (b"x=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ]
    for raw, media, status, code in cases:
        response = client.post(URL, content=raw, headers={**AUTH, "Content-Type": media})
        assert response.status_code == status, raw
        assert response.json()["error"]["code"] == code


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    response = client.post(
        URL, content=b"[" + b"0," * 600_000 + b"0]", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_grid_trace_is_the_wrong_task(client: TestClient) -> None:
    task = grid_layout(2)
    trace = make_trace(phase_b_trace(task, [(0, 0), (4, 1)], "linear_steps", np.random.default_rng(0)), task)
    response = client.post(URL, json=body_of(trace), headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "wrong_task"


def test_version_metrics_and_openapi(client: TestClient, champion: str) -> None:
    version = client.get("/version", headers=AUTH).json()
    assert version["models"]["phase_a"]["version"] == champion
    assert version["device"] in {"cpu", "cuda"}
    client.post(URL, json=teleport_body(), headers=AUTH)
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'ai_requests_total{endpoint="/v1/phase-a/score",status="200"}' in metrics
    assert "ai_model_version" in metrics
    spec = client.get("/openapi.json").json()
    assert "/v1/phase-a/score" in spec["paths"]
    assert "422" in spec["paths"]["/v1/phase-a/score"]["post"]["responses"]
    assert "model_unavailable" in spec["info"]["description"]


def test_scored_traces_count_their_scoring_cpu_and_refusals_do_not(client: TestClient) -> None:
    """``ai_scored_total`` counts each trace validated and decided, ``ai_scoring_cpu_seconds_total`` their CPU
    (what bench/serving.py subtracts from the server's CPU per request); a refused body counts in neither."""
    client.post(URL, json=teleport_body(), headers=AUTH)
    client.post(URL, json=teleport_body(1), headers=AUTH)
    assert client.post(URL, json={"trace": 1}, headers=AUTH).status_code == 422
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'ai_scored_total{phase="a"} 2.0' in metrics
    cpu = next(
        line for line in metrics.splitlines() if line.startswith('ai_scoring_cpu_seconds_total{phase="a"}')
    )
    assert 0.0 < float(cpu.split()[1]) < 10.0


def test_the_score_route_comes_before_the_routers_and_is_documented(client: TestClient) -> None:
    """The score route is a ScoreRoute (no dependency solving) of the app itself, ahead of every router (only
    FastAPI's own docs routes, served in tests, come before it), and its operation is documented as before:
    ScoreRequest in, ScoreResponse out, the error responses."""
    routes = client.app.router.routes  # type: ignore[attr-defined]
    first = next(i for i, route in enumerate(routes) if isinstance(route, ScoreRoute))
    assert routes[first].path == URL
    assert [route.path for route in routes[:first]] == ["/openapi.json", "/docs", "/docs/oauth2-redirect"]
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    assert operation["operationId"] == "score_phase_a_v1_phase_a_score_post"
    assert operation["tags"] == ["phase-a"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoreResponse"
    }
    assert {"401", "413", "422", "503"} <= set(operation["responses"])


def test_integrity_reasons_are_reported_counted_and_leave_passed_alone(client: TestClient) -> None:
    # Playwright's recorded tear (tests/fixtures/integrity): injected input in an automated browser.
    body = {"trace": json.loads((FIXTURES / "cdp_headed.json").read_text())}
    payload = client.post(URL, json=body, headers=AUTH).json()
    assert payload["integrity"]["reasons"] == ["injected_input", "automation_env"]
    assert payload["integrity"]["tells"] == ["coalesced_single", "fractional_steps", "automation_env"]
    assert not set(payload["integrity"]["reasons"]) & set(payload["reasons"])
    clean = {"trace": json.loads((FIXTURES / "os_xdotool.json").read_text())}
    assert client.post(URL, json=clean, headers=AUTH).json()["integrity"]["reasons"] == []
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'ai_integrity_total{code="injected_input",kind="reason",phase="a"} 1.0' in metrics
    assert 'ai_integrity_total{code="coalesced_single",kind="tell",phase="a"} 1.0' in metrics
    assert 'ai_model_version{name="tcurity-integrity",role="integrity"}' in metrics
    version = client.get("/version", headers=AUTH).json()
    assert version["integrity"] == {"name": "tcurity-integrity", "version": params().integrity.version}


def test_missing_champion_means_not_ready_and_503(mlflow_registry: str) -> None:
    with TestClient(create_app(settings())) as c:
        ready = c.get("/ready")
        assert ready.status_code == 503
        assert "phase_a" in ready.json()["missing"]
        response = c.post(URL, json=teleport_body(), headers=AUTH)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_unavailable"


def test_alias_move_is_picked_up_without_restart_and_no_request_fails(
    mlflow_registry: str, human_paths: list[Path2]
) -> None:
    promote(train_and_register(human_paths, seed=1))  # this test moves the alias: a registry of its own
    with TestClient(create_app(settings())) as client:
        alias_move_is_picked_up(client, human_paths)


def alias_move_is_picked_up(client: TestClient, human_paths: list[Path2]) -> None:
    new_version = train_and_register(human_paths, seed=2)
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(client.post(URL, json=teleport_body(), headers=AUTH).status_code)

    worker = threading.Thread(target=hammer)
    worker.start()
    promote(new_version)
    reloaded = client.post("/v1/admin/reload", headers=AUTH).json()
    stop.set()
    worker.join()
    assert reloaded["changed"] == ["phase_a"]
    assert client.get("/version", headers=AUTH).json()["models"]["phase_a"]["version"] == new_version
    assert statuses and set(statuses) == {200}
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == []


def test_a_tear_with_a_second_press_is_refused(client: TestClient, human_paths: list[Path2]) -> None:
    """A throwaway press after the tear (security review 1a) is refused before anything reads the trace."""
    body = body_of(human_trace(human_paths[0], 0))
    points = body["trace"]["points"]
    t_end = points["t_ms"][-1]
    points["x"] += [0.1, 0.2, 0.15]
    points["y"] += [0.4, 0.5, 0.6]
    points["t_ms"] += [t_end + 60.0, t_end + 70.0, t_end + 80.0]
    points["event"] += ["down", "move", "up"]
    for column, value in (("pointer_type", "mouse"), ("trusted", True), ("coalesced", 1)):
        if points.get(column) is not None:
            points[column] += [value] * 3
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_event_sequence"


def test_a_tear_without_browser_signals_is_blocked(client: TestClient, human_paths: list[Path2]) -> None:
    body = body_of(human_trace(human_paths[0], 5))
    del body["trace"]["points"]["trusted"]
    payload = client.post(URL, json=body, headers=AUTH).json()
    assert payload["passed"] is False
    assert "missing_signals" in payload["reasons"]
    assert payload["checks"]["signals"] == {"passed": False}
