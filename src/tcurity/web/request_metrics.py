"""Request metrics of both services: requests by endpoint and status, latency by endpoint (Prometheus).

The label children are cached, since this runs on every request: ``labels()`` takes a lock and builds a key each
time, which the AI server's score endpoint, served in about a millisecond, can feel.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestMetrics:
    """``<prefix>_requests_total{endpoint,status}`` and ``<prefix>_request_seconds{endpoint}`` in ``registry``."""

    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            f"{prefix}_requests_total",
            "Requests by endpoint and status",
            ["endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def record(self, endpoint: str, status: int, elapsed_s: float) -> None:
        """Counts a request and its latency."""
        children = self._children.get((endpoint, status))
        if children is None:
            children = (self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
            self._children[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(elapsed_s)


def endpoint_of(scope: Scope) -> str:
    """The route template a request matched (``other`` when none did): a label of bounded cardinality."""
    return str(getattr(scope.get("route"), "path", "other"))


class MeasuredRequests:
    """Pure ASGI middleware: counts and times every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

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
            self.metrics.record(endpoint_of(scope), status, time.perf_counter() - start)
