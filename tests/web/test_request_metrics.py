"""Request metrics of both services (tcurity.web.request_metrics): counts and latency by route template."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from tcurity.web.request_metrics import MeasuredRequests, RequestMetrics


def test_requests_are_counted_by_route_template_and_status() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics("svc", registry)
    app = FastAPI()

    @app.get("/items/{item}")
    def item(item: int) -> dict[str, int]:
        return {"item": item}

    app.add_middleware(MeasuredRequests, metrics=metrics)
    client = TestClient(app)
    assert client.get("/items/1").status_code == 200
    assert client.get("/items/2").status_code == 200
    assert client.get("/items/x").status_code == 422
    assert client.get("/nowhere").status_code == 404
    text = generate_latest(registry).decode()
    assert 'svc_requests_total{endpoint="/items/{item}",status="200"} 2.0' in text
    assert 'svc_requests_total{endpoint="/items/{item}",status="422"} 1.0' in text
    assert 'svc_requests_total{endpoint="other",status="404"} 1.0' in text
    assert 'svc_request_seconds_count{endpoint="/items/{item}"} 3.0' in text
