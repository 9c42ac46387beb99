"""The AI server, seen from the backend: HTTP only (Bearer ``AI_SERVER_TOKEN``), never an import of ``serving``.

Any failure to get a well-formed answer (connection refused, timeout, 5xx, a missing route, a malformed body)
is :class:`AiUnavailableError`, which the flow turns into ``ai_unavailable`` (fail closed) or an unscored pass
(a site's fail-open policy). A 422 that carries a trace code is :class:`AiRejectedError`: the trace itself is
at fault, and its code goes back to the client unchanged.

A 503 whose code says a model or the problem bank is not loaded (``model_unavailable``, ``bank_unavailable``) is
:class:`AiNotReadyError`: nothing is busy, the service is not configured, and retrying in seconds will not help.
The flow answers ``service_not_ready`` and never fails open on it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tcurity.traces import Trace
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.schemas.challenge import ProblemView

logger = logging.getLogger(__name__)

Phase = Literal["phase_a", "phase_b"]
_SCORE_PATHS: dict[str, str] = {"phase_a": "/v1/phase-a/score", "phase_b": "/v1/phase-b/score"}


class AiUnavailableError(RuntimeError):
    """The AI server gave no usable answer."""


class AiNotReadyError(RuntimeError):
    """The AI server answers but lacks a model or the problem bank (``/ready`` is false): not an outage."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


# The AI server's 503 codes for "a model or the bank is not loaded" (serving.errors).
NOT_READY_CODES = frozenset({"model_unavailable", "bank_unavailable"})


class AiRejectedError(ValueError):
    """The AI server refused the trace with a documented code (422)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class _Model(BaseModel):
    name: str
    version: str


class _Score(BaseModel):
    model_config = ConfigDict(extra="ignore")
    score: float
    passed: bool
    threshold: float
    reasons: list[str]
    model: _Model


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    problem_id: str
    answer: list[str] = Field(min_length=1, max_length=9)


class _ProblemPair(BaseModel):
    model_config = ConfigDict(extra="ignore")
    client: ProblemView
    answer: _Answer


class _Problems(BaseModel):
    model_config = ConfigDict(extra="ignore")
    problems: list[_ProblemPair] = Field(min_length=1)
    model: _Model


@dataclass(frozen=True, slots=True)
class AiDecision:
    """The AI server's verdict on one trace."""

    score: float
    passed: bool
    threshold: float
    reasons: list[str]
    model: str  # name@version


@dataclass(frozen=True, slots=True)
class AiProblem:
    """One Phase B problem: the view safe for the browser, the ordered answer the backend keeps, the model."""

    view: ProblemView
    answer: list[str]
    model: str


class AiClient:
    """Calls the AI server; ``transport`` replaces the network (tests mount an ASGI app there)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float,
        telemetry: Telemetry,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
            limits=limits,
        )
        self._telemetry = telemetry

    async def _post(
        self, call: str, path: str, content: bytes, timeout_s: float | None = None
    ) -> dict[str, Any]:
        start = time.perf_counter()
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
        try:
            response = await self._http.post(
                path, content=content, headers={"Content-Type": "application/json"}, timeout=timeout
            )
        except httpx.HTTPError as exc:
            self._telemetry.ai_errors.labels(call).inc()
            logger.warning(
                "AI server unreachable", extra={"fields": {"call": call, "error": type(exc).__name__}}
            )
            raise AiUnavailableError(type(exc).__name__) from exc
        finally:
            self._telemetry.ai_latency.labels(call).observe(time.perf_counter() - start)
        if response.status_code == 200:
            try:
                return dict(response.json())
            except ValueError as exc:
                raise self._unavailable(call, "malformed body") from exc
        if response.status_code == 503:
            self._raise_if_not_ready(call, response)
        if response.status_code == 422:
            error = _error_of(response)
            if error is not None and error[0] not in ("invalid_request", "wrong_task"):
                raise AiRejectedError(*error)
        raise self._unavailable(call, f"status {response.status_code}")

    def _raise_if_not_ready(self, call: str, response: httpx.Response) -> None:
        error = _error_of(response)
        if error is not None and error[0] in NOT_READY_CODES:
            self._telemetry.ai_errors.labels(call).inc()
            logger.error("AI server not ready", extra={"fields": {"call": call, "error": error[0]}})
            raise AiNotReadyError(*error)

    def _unavailable(self, call: str, why: str) -> AiUnavailableError:
        self._telemetry.ai_errors.labels(call).inc()
        logger.warning("AI server failed", extra={"fields": {"call": call, "error": why}})
        return AiUnavailableError(why)

    async def score(self, phase: Phase, trace: Trace) -> AiDecision:
        """The behaviour model's decision on a trace of ``phase``."""
        content = b'{"trace":' + trace.model_dump_json().encode() + b"}"
        body = await self._post(phase, _SCORE_PATHS[phase], content)
        try:
            parsed = _Score.model_validate(body)
        except ValidationError as exc:
            raise self._unavailable(phase, "malformed score") from exc
        model = f"{parsed.model.name}@{parsed.model.version}"
        return AiDecision(parsed.score, parsed.passed, parsed.threshold, parsed.reasons, model)

    async def problems(self, count: int, timeout_s: float | None = None) -> list[AiProblem]:
        """``count`` fresh Phase B problems in one call (the pool filler's batch; never on a request's path)."""
        content = b'{"count":' + str(count).encode() + b"}"
        body = await self._post("problems", "/v1/phase-b/problems", content, timeout_s)
        try:
            parsed = _Problems.model_validate(body)
        except ValidationError as exc:
            raise self._unavailable("problems", "malformed problem") from exc
        if any(pair.answer.problem_id != pair.client.problem_id for pair in parsed.problems):
            raise self._unavailable("problems", "answer of another problem")
        model = f"{parsed.model.name}@{parsed.model.version}"
        return [AiProblem(pair.client, list(pair.answer.answer), model) for pair in parsed.problems]

    async def ready(self) -> dict[str, Any]:
        """The AI server's readiness (``{"ready": bool, ...}``); unreachable reads as not ready."""
        try:
            response = await self._http.get("/ready", timeout=1.0)
            body = response.json()
            return {"ready": response.status_code == 200, "missing": body.get("missing", [])}
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return {"ready": False, "error": type(exc).__name__}

    async def close(self) -> None:
        await self._http.aclose()


def _error_of(response: httpx.Response) -> tuple[str, str] | None:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return None
