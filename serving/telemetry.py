"""Prometheus metrics of the AI server: requests and latency per endpoint, errors, model versions."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from tcurity.web.request_metrics import RequestMetrics


class Telemetry:
    """One registry per app (tests create several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = RequestMetrics(
            "ai", self.registry
        )  # recorded by tcurity.web.request_metrics.MeasuredRequests
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
        self.scoring_cpu = Counter(
            "ai_scoring_cpu_seconds_total",
            "CPU seconds of the event loop spent validating and deciding scored traces (the request less HTTP)",
            ["phase"],
            registry=self.registry,
        )
        self.scored = Counter(
            "ai_scored_total",
            "Traces validated and decided (scoring_cpu's count)",
            ["phase"],
            registry=self.registry,
        )
        self.reloads = Counter("ai_model_reloads_total", "Model set swaps", registry=self.registry)
        self.model_refusals = Counter(
            "ai_model_refusals_total",
            "Champion versions refused at load (unpromoted, forced, no_digest, digest_mismatch)",
            ["role", "reason"],
            registry=self.registry,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def count_refusal(self, role: str, reason: str) -> None:
        """Counts a champion version the model store refused to load."""
        self.model_refusals.labels(role, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_decision(self, phase: str, passed: bool, integrity: dict[str, object]) -> None:
        """Counts a scored trace by outcome (``pass``/``block``), and its integrity reasons and tells (``kind``
        says which)."""
        self._child(self.decisions, (phase, "pass" if passed else "block")).inc()
        for kind in ("reasons", "tells"):
            codes = integrity.get(kind)
            for code in codes if isinstance(codes, list) else []:
                self._child(self.integrity, (phase, kind.rstrip("s"), str(code))).inc()

    def count_scoring(self, phase: str, cpu_s: float) -> None:
        """Adds one scored trace's validation and decision CPU seconds: the server's in-process scoring, measured
        under its real load, which ``bench/serving.py`` subtracts from the server's CPU per request to leave
        the HTTP layer's."""
        self._child(self.scoring_cpu, (phase,)).inc(cpu_s)
        self._child(self.scored, (phase,)).inc()

    def _child(self, metric: Counter, labels: tuple[str, ...]) -> Any:
        """``metric.labels(*labels)``, cached: ``labels()`` locks and builds a key on every call, and this runs
        on every scored trace (the labels are bounded: phases, outcomes, the integrity layer's codes)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def set_versions(self, versions: dict[str, tuple[str, str]]) -> None:
        self.model_version.clear()
        for role, (name, version) in versions.items():
            self.model_version.labels(role, name).set(float(version))
