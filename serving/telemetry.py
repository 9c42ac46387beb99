"""Prometheus metrics of the AI server: requests and latency per endpoint, errors, model versions."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        self.integrity = Counter(
            "ai_integrity_total",
            "Integrity reasons and tells found, by phase",
            ["phase", "kind", "code"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "ai_model_version",
            "Loaded model version (value) per role and name",
            ["role", "name"],
            registry=self.registry,
        )
        self.reloads = Counter("ai_model_reloads_total", "Model set swaps", registry=self.registry)
        self.model_refusals = Counter(
            "ai_model_refusals_total",
            "Champion versions refused at load (unpromoted, forced, no_digest, digest_mismatch)",
            ["role", "reason"],
            registry=self.registry,
        )

    def count_refusal(self, role: str, reason: str) -> None:
        """Counts a champion version the model store refused to load."""
        self.model_refusals.labels(role, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_integrity(self, phase: str, integrity: dict[str, object]) -> None:
        """Counts a decision's integrity reasons and tells (``kind`` says which)."""
        for kind in ("reasons", "tells"):
            codes = integrity.get(kind)
            for code in codes if isinstance(codes, list) else []:
                self.integrity.labels(phase, kind.rstrip("s"), str(code)).inc()

    def set_versions(self, versions: dict[str, tuple[str, str]]) -> None:
        self.model_version.clear()
        for role, (name, version) in versions.items():
            self.model_version.labels(role, name).set(float(version))


class TelemetryMiddleware:
    """Counts and times every HTTP request by route template and status (a plain ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = str(getattr(scope.get("route"), "path", "other"))
            self.telemetry.requests.labels(endpoint, str(status)).inc()
            self.telemetry.latency.labels(endpoint).observe(time.perf_counter() - start)
