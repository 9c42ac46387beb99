"""The AI server, seen from the backend: HTTP only (Bearer ``AI_SERVER_TOKEN``), never an import of ``serving``.

Failures are told apart, because only one kind may ever let a phase pass unscored:

- :class:`AiUnavailableError`: the AI server could not be reached: a refused or reset connection, a connection
  closed before any answer, or a timeout. This is the only failure a fail-open site may turn into an unscored
  pass (within its budget, :mod:`web.backend.app.services.challenge`). A :class:`CircuitBreaker` counts these:
  after ``AI_BREAKER_FAILURES`` in a row it opens, and for ``AI_BREAKER_OPEN_S`` every call fails at once
  (:class:`AiCircuitOpenError`, also "unavailable") without reaching the AI server; then one probe call is let
  through (half-open) and its result closes or re-opens the circuit. An outage is detected once, not hammered.
- :class:`AiFailedError`: the AI server answered, but not with a usable answer: a 5xx other than "not ready",
  an unexpected status, or a malformed body. Always fail closed (``ai_unavailable``, no pass), whatever the
  site's policy: a body an attacker could make malformed must never be a free pass.
- :class:`AiRejectedError`: a 422: the AI server refused the trace (its code, ``invalid_request`` and
  ``wrong_task`` included). The flow counts it as a failed attempt with that reason.
- :class:`AiNotReadyError`: a 503 whose code says a model or the problem bank is not loaded
  (``model_unavailable``, ``bank_unavailable``): nothing is busy, the service is not configured, and retrying in
  seconds will not help. The flow answers ``service_not_ready`` and never fails open on it.

Answers are parsed with the AI server's own response models (:mod:`tcurity.web.ai_api`, which its routes declare),
never a copy of them: a body that is not the contract is a malformed one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from tcurity.integrity import REASONS as INTEGRITY_REASONS
from tcurity.traces import Trace
from tcurity.web.ai_api import ProblemsResponse, ProblemView, ScoreResponse
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.breaker import CircuitBreaker

logger = logging.getLogger(__name__)

Phase = Literal["phase_a", "phase_b"]
_SCORE_PATHS: dict[str, str] = {"phase_a": "/v1/phase-a/score", "phase_b": "/v1/phase-b/score"}


class AiUnavailableError(RuntimeError):
    """The AI server could not be reached (connection error or timeout): the only failure that may fail open."""


class AiCircuitOpenError(AiUnavailableError):
    """The circuit breaker is open: the AI server failed repeatedly, so this call was not even tried."""


class AiFailedError(RuntimeError):
    """The AI server answered without a usable answer (5xx, unexpected status, malformed body): fail closed."""


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


@dataclass(frozen=True, slots=True)
class AiDecision:
    """The AI server's verdict on one trace."""

    score: float
    passed: bool
    threshold: float
    reasons: list[str]
    model: str  # name@version
    integrity: tuple[str, ...] = ()  # the integrity layer's reasons (known codes only)
    integrity_model: str | None = None  # its name@version


@dataclass(frozen=True, slots=True)
class AiProblem:
    """One Phase B problem: the view safe for the browser, the ordered answer the backend keeps, the model."""

    view: ProblemView
    answer: list[str]
    model: str


# Transport failures that mean "the AI server could not be reached": refused/reset connections (NetworkError),
# a connection closed before any answer (RemoteProtocolError) and timeouts. Anything else is a failure.
_UNREACHABLE = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.TimeoutException)


class AiClient:
    """Calls the AI server; ``transport`` replaces the network (tests mount an ASGI app there)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float,
        telemetry: Telemetry,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
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
        self.breaker = breaker or CircuitBreaker(5, 10.0)  # scoring answers
        # The pool filler's problem batches: a slow generator never opens the scoring breaker.
        self.problems_breaker = CircuitBreaker(self.breaker.failures_to_open, self.breaker.open_s)

    async def _post(
        self, call: str, path: str, content: bytes, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POSTs ``content``; the answer's JSON object on a 200, else the error that says what went wrong.
        Each kind of call has its own breaker (:meth:`_breaker`): the pool filler's problem batches never open
        the breaker that scoring answers goes through.

        Raises:
            AiCircuitOpenError: the breaker is open (no call was made).
            AiUnavailableError: the AI server could not be reached (connection error, timeout).
            AiRejectedError: a 422: the AI server refused the request with a code.
            AiNotReadyError: a 503 saying a model or the bank is not loaded.
            AiFailedError: any other status, or a body that is not a JSON object.
        """
        breaker = self._breaker(call)
        if not breaker.allow():
            self._telemetry.ai_errors.labels(call).inc()
            self._telemetry.ai_short_circuited.labels(call).inc()
            raise AiCircuitOpenError("circuit open")
        response = await self._send(call, path, content, breaker, timeout_s)
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError as exc:
                raise self._failed(call, "malformed body") from exc
            if not isinstance(body, dict):
                raise self._failed(call, "malformed body")
            return body
        if response.status_code == 503:
            self._raise_if_not_ready(call, response)
        if response.status_code == 422:
            error = _error_of(response)
            if error is not None:
                self._telemetry.ai_errors.labels(call).inc()
                raise AiRejectedError(*error)
        raise self._failed(call, f"status {response.status_code}")

    def _breaker(self, call: str) -> CircuitBreaker:
        return self.problems_breaker if call == "problems" else self.breaker

    async def _send(
        self, call: str, path: str, content: bytes, breaker: CircuitBreaker, timeout_s: float | None
    ) -> httpx.Response:
        """One request through ``breaker``: an unreachable server counts against it, any answer closes it. A
        full local connection pool (``PoolTimeout``) says nothing about the server: it fails this call closed and
        leaves the breaker alone."""
        start = time.perf_counter()
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
        try:
            response = await self._http.post(
                path, content=content, headers={"Content-Type": "application/json"}, timeout=timeout
            )
        except httpx.PoolTimeout as exc:  # our own connections are all busy: the server is not at fault
            breaker.released()
            raise self._failed(call, type(exc).__name__) from exc
        except _UNREACHABLE as exc:
            breaker.failed()
            self._telemetry.ai_errors.labels(call).inc()
            logger.warning(
                "AI server unreachable", extra={"fields": {"call": call, "error": type(exc).__name__}}
            )
            raise AiUnavailableError(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            breaker.released()
            raise self._failed(call, type(exc).__name__) from exc
        except BaseException:  # cancelled: no verdict on the server
            breaker.released()
            raise
        finally:
            self._telemetry.ai_latency.labels(call).observe(time.perf_counter() - start)
        breaker.succeeded()
        return response

    def _raise_if_not_ready(self, call: str, response: httpx.Response) -> None:
        error = _error_of(response)
        if error is not None and error[0] in NOT_READY_CODES:
            self._telemetry.ai_errors.labels(call).inc()
            logger.error("AI server not ready", extra={"fields": {"call": call, "error": error[0]}})
            raise AiNotReadyError(*error)

    def _failed(self, call: str, why: str) -> AiFailedError:
        self._telemetry.ai_errors.labels(call).inc()
        logger.warning("AI server failed", extra={"fields": {"call": call, "error": why}})
        return AiFailedError(why)

    async def score(self, phase: Phase, trace: Trace) -> AiDecision:
        """The behaviour model's decision on a trace of ``phase``."""
        content = b'{"trace":' + trace.model_dump_json().encode() + b"}"
        body = await self._post(phase, _SCORE_PATHS[phase], content)
        try:
            parsed = ScoreResponse.model_validate(body)
        except ValidationError as exc:
            raise self._failed(phase, "malformed score") from exc
        model = f"{parsed.model.name}@{parsed.model.version}"
        integrity = parsed.integrity
        return AiDecision(
            parsed.score,
            parsed.passed,
            parsed.threshold,
            parsed.reasons,
            model,
            tuple(r for r in integrity.reasons if r in INTEGRITY_REASONS),
            f"{integrity.name}@{integrity.version}",
        )

    async def problems(self, count: int, timeout_s: float | None = None) -> list[AiProblem]:
        """``count`` fresh Phase B problems in one call (the pool filler's batch; never on a request's path)."""
        content = b'{"count":' + str(count).encode() + b"}"
        body = await self._post("problems", "/v1/phase-b/problems", content, timeout_s)
        try:
            parsed = ProblemsResponse.model_validate(body)
        except ValidationError as exc:
            raise self._failed("problems", "malformed problem") from exc
        if not parsed.problems:
            raise self._failed("problems", "no problem")
        if any(pair.answer.problem_id != pair.client.problem_id for pair in parsed.problems):
            raise self._failed("problems", "answer of another problem")
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
