"""Prometheus metrics of the AI server: requests and latency per endpoint, errors, model versions."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Telemetry:
    """One registry per app (tests create several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ai_requests_total",
            "Requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ai_request_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.decisions = Counter(
            "ai_decisions_total",
            "Scored traces by phase and outcome",
            ["phase", "outcome"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "ai_model_version",
            "Loaded model version (value) per role and name",
            ["role", "name"],
            registry=self.registry,
        )
        self.reloads = Counter("ai_model_reloads_total", "Model set swaps", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def set_versions(self, versions: dict[str, tuple[str, str]]) -> None:
        self.model_version.clear()
        for role, (name, version) in versions.items():
            self.model_version.labels(role, name).set(float(version))


def route_name(request: Request) -> str:
    """The matched route's path template (``/v1/phase-a/score``), so labels stay few; ``other`` if none."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "other"))


def middleware(
    telemetry: Telemetry,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        endpoint = route_name(request)
        telemetry.requests.labels(endpoint, str(response.status_code)).inc()
        telemetry.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    return record
