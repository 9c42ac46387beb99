"""Prometheus metrics of the backend, and the middleware that records requests and sets the request id."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tcurity.web.request_metrics import LATENCY_BUCKETS_S, RequestMetrics, endpoint_of
from web.backend.app.core.logging import new_request_id, request_id_var

logger = logging.getLogger("web.backend.access")


class Telemetry:
    """One registry per app (tests create several apps in one process)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.http = RequestMetrics("backend", r)  # recorded by RequestContext
        self.sessions = Counter("backend_sessions_total", "Challenge sessions created", registry=r)
        self.answers = Counter(
            "backend_answers_total", "Answered tasks by phase and outcome", ["phase", "outcome"], registry=r
        )
        self.passes = Counter("backend_passes_total", "Sessions passed", ["unscored"], registry=r)
        self.blocks = Counter(
            "backend_block_reasons_total",
            "Reasons of failed answers by phase",
            ["phase", "reason"],
            registry=r,
        )
        self.integrity = Counter(
            "backend_integrity_total",
            "Integrity reasons of scored answers by phase and the site's policy action",
            ["phase", "reason", "action"],
            registry=r,
        )
        self.ai_latency = Histogram(
            "backend_ai_seconds", "AI server call latency", ["call"], buckets=LATENCY_BUCKETS_S, registry=r
        )
        self.ai_errors = Counter(
            "backend_ai_errors_total", "AI server calls that failed", ["call"], registry=r
        )
        self.ai_short_circuited = Counter(
            "backend_ai_short_circuited_total",
            "AI server calls refused at once by the open circuit breaker (no request made)",
            ["call"],
            registry=r,
        )
        self.ai_circuit = Gauge(
            "backend_ai_circuit_state", "The AI circuit breaker: 0 closed, 1 half-open, 2 open", registry=r
        )
        self.unscored = Counter(
            "backend_unscored_total",
            "Fail-open decisions with the AI server unreachable: passed unscored, or refused past the site's budget",
            ["result"],
            registry=r,
        )
        self.siteverify = Counter(
            "backend_siteverify_total",
            "siteverify answers by result (success or first error code)",
            ["result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "backend_rate_limited_total", "Refused by a rate limit", ["scope"], registry=r
        )
        self.collect_dropped = Counter(
            "backend_collect_dropped_total",
            "Scored traces a collecting site did not keep (quota, oversized, store_error)",
            ["reason"],
            registry=r,
        )

        self.pool_depth = Gauge(
            "backend_pool_depth",
            "Ready Phase B problems in the pool (read from the store at scrape)",
            registry=r,
        )
        self.pool_target_depth = Gauge(
            "backend_pool_target_depth", "The depth the pool filler keeps (PROBLEM_POOL_DEPTH)", registry=r
        )
        self.pool_added = Counter(
            "backend_pool_added_total", "Phase B problems the filler put into the pool", registry=r
        )
        self.pool_fill_rate = Gauge(
            "backend_pool_fill_rate",
            "The filler's rate over its last batch: problems per second of making and storing them",
            registry=r,
        )
        self.pool_taken = Counter(
            "backend_pool_taken_total",
            "Phase B problems issued from the pool (or refused: empty)",
            ["result"],
            registry=r,
        )
        self.pool_fill_errors = Counter(
            "backend_pool_fill_errors_total", "Filler batches that failed, by cause", ["cause"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestContext:
    """Pure ASGI middleware: request id (``X-Request-ID`` in and out), latency and status metrics (the shared
    :class:`tcurity.web.request_metrics.RequestMetrics`), access log."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = new_request_id(incoming)
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            endpoint = endpoint_of(scope)
            self.telemetry.http.record(endpoint, status, elapsed)
            if logger.isEnabledFor(logging.INFO):
                fields = {
                    "request_id": request_id,
                    "method": scope["method"],
                    "endpoint": endpoint,
                    "status": status,
                }
                logger.info("request", extra={"fields": {**fields, "ms": round(elapsed * 1000.0, 2)}})
            request_id_var.reset(token)
