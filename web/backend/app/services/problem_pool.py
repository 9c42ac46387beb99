"""Phase B problems made ahead of time: the pool that issuing takes from, and the filler that keeps it full.

Making a problem is slow (the AI server renders nine tiles and checks them with the image classifier under one
lock, about 18 problems/s on CPU), so it never happens on a request's path. The filler asks the AI server for
batches (``POST /v1/phase-b/problems``) and keeps them in the store (Redis in production, shared by every
backend replica) until the pool holds ``PROBLEM_POOL_DEPTH``; then it pauses and only watches the depth. Issuing
Phase B pops one problem: the pop is atomic, so a problem is served once and never again, and a problem not
served within ``PROBLEM_POOL_TTL_S`` expires unserved. The answer travels with the pooled problem inside the
store only; issuing copies it into the session's open task, as before, and sends the client the view alone.

The filler runs as a background task of the backend (``PROBLEM_POOL_FILLER``) or as its own process
(``python -m web.backend.app.filler``). Each turn it takes or renews a lease in the store, so one filler fills
at a time whatever the number of replicas; two that overlap (a lease lapsing during a slow batch) only overshoot
the depth by a batch, and can never hand out a problem twice.

An empty pool is ``pool_empty`` (503 with ``Retry-After``): retryable, never a pass, whatever the site's
fail-open policy. When the filler's last batch failed because the AI server lacks its image model or bank, an
empty pool answers ``service_not_ready`` instead, so the page says "not set up", not "busy".
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from web.backend.app.core.errors import ApiError
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.schemas.challenge import ProblemView
from web.backend.app.services.ai_client import AiClient, AiNotReadyError, AiProblem, AiUnavailableError
from web.backend.app.services.session import store_unavailable
from web.backend.app.store.base import Store, StoreUnavailableError

logger = logging.getLogger(__name__)

FILLER_LEASE = "pool-filler"
# The filler's last outcome: "" after a good batch, else the AI server's not-ready code (kept as a result).
STATUS_KEY = "pool:status"
STATUS_TTL_S = 60.0
# Corrupt entries (say, of an older format during a rolling upgrade) skipped per issue before giving up.
MAX_SKIPPED = 3


class PooledProblem(BaseModel):
    """A ready problem as the pool keeps it: the client's view, the ordered answer (server side only), the
    image model that checked it."""

    model_config = ConfigDict(extra="forbid")
    view: ProblemView
    answer: Annotated[list[str], Field(min_length=1, max_length=9)]
    model: str

    @classmethod
    def of(cls, made: AiProblem) -> PooledProblem:
        """The pooled form of a problem the AI server made."""
        return cls(view=made.view, answer=made.answer, model=made.model)


def pool_empty(retry_after_s: int) -> ApiError:
    """The documented, retryable refusal of an issue that finds no ready problem."""
    return ApiError(
        503,
        "pool_empty",
        "no Phase B problem is ready; retry in a few seconds",
        headers={"Retry-After": str(retry_after_s)},
    )


def pool_not_ready(code: str) -> ApiError:
    """An empty pool because the AI server lacks its image model or bank: an operator must act."""
    return ApiError(
        503,
        "service_not_ready",
        "the scoring service is not configured: a model is missing (an operator must fix it; retrying will not)",
        {"ai_code": code},
    )


class ProblemPool:
    """The pool over a :class:`Store`: put made problems, take one ready problem, read the depth."""

    def __init__(self, store: Store, telemetry: Telemetry, ttl_s: float, retry_after_s: int) -> None:
        self.store = store
        self.telemetry = telemetry
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s

    async def put(self, made: list[AiProblem]) -> int:
        """Keeps made problems for ``ttl_s``; returns the live depth after."""
        blobs = [PooledProblem.of(p).model_dump_json().encode() for p in made]
        depth = await self.store.push_problems(blobs, self.ttl_s)
        self.telemetry.pool_depth.set(depth)
        return depth

    async def take(self) -> PooledProblem:
        """One ready problem, taken for good.

        Raises:
            ApiError: ``pool_empty`` (503, ``Retry-After``) when none is ready, ``service_not_ready`` when the
                filler cannot fill for want of a model, ``store_unavailable`` when the store is down.
        """
        try:
            for _ in range(MAX_SKIPPED + 1):
                blob = await self.store.pop_problem()
                if blob is None:
                    break
                try:
                    problem = PooledProblem.model_validate_json(blob)
                except ValidationError:
                    logger.error("skipped a pooled problem that does not parse")
                    continue
                self.telemetry.pool_taken.labels("issued").inc()
                return problem
            code = await self.not_ready_code()
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        self.telemetry.pool_taken.labels("empty").inc()
        if code:
            raise pool_not_ready(code)
        raise pool_empty(self.retry_after_s)

    async def depth(self) -> int:
        """The live depth (also exported as ``backend_pool_depth``)."""
        depth = await self.store.problem_depth()
        self.telemetry.pool_depth.set(depth)
        return depth

    async def note_status(self, code: str) -> None:
        """Records the filler's last outcome: ``""`` after a good batch, else the AI server's not-ready code."""
        await self.store.put_result(STATUS_KEY, code.encode(), STATUS_TTL_S)

    async def not_ready_code(self) -> str | None:
        """The not-ready code of the filler's last batch, when that batch failed for want of a model."""
        found = await self.store.get_result(STATUS_KEY)
        return found.decode() if found else None


def filler_id() -> str:
    """This filler's lease owner: host, process and a random part (two fillers never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class PoolFiller:
    """Keeps the pool at ``depth``, a batch at a time, while it holds the filler lease; pauses when full.

    Args:
        pool: where problems go.
        ai: the AI server (its batch endpoint makes and checks the problems).
        depth: the pool's target depth.
        batch: problems per call to the AI server.
        timeout_s: time limit of one batch call.
        pause_s: how long a full pool (or a lease held elsewhere) waits before looking again.
        lease_ttl_s: how long the lease outlives the last turn of its holder.
        backoff_max_s: the longest wait after failed batches (doubling from ``pause_s``).
    """

    def __init__(
        self,
        pool: ProblemPool,
        ai: AiClient,
        depth: int,
        batch: int,
        timeout_s: float,
        *,
        pause_s: float = 0.25,
        lease_ttl_s: float = 15.0,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.ai = ai
        self.depth = depth
        self.batch = batch
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.lease_ttl_s = lease_ttl_s
        self.backoff_max_s = backoff_max_s
        self.owner = filler_id()
        self.failures = 0
        pool.telemetry.pool_target_depth.set(depth)

    async def fill_once(self) -> int:
        """Adds one batch when the pool is below its depth; returns how many problems were added (0: full).

        Raises:
            AiNotReadyError: the AI server lacks its image model or bank (noted for issuing).
            AiUnavailableError: the AI server gave no usable answer.
            StoreUnavailableError: the store is unreachable.
        """
        missing = self.depth - await self.pool.depth()
        if missing <= 0:
            return 0
        start = time.perf_counter()
        try:
            made = await self.ai.problems(min(self.batch, missing), self.timeout_s)
        except AiNotReadyError as exc:
            await self.pool.note_status(exc.code)
            raise
        await self.pool.put(made)
        elapsed_s = time.perf_counter() - start
        telemetry = self.pool.telemetry
        telemetry.pool_added.inc(len(made))
        telemetry.pool_fill_rate.set(len(made) / max(elapsed_s, 1e-9))
        await self.pool.note_status("")
        return len(made)

    async def step(self) -> float:
        """One turn: hold the lease, add a batch if the pool needs one; returns the seconds to wait next."""
        try:
            if not await self.pool.store.hold_lease(FILLER_LEASE, self.owner, self.lease_ttl_s):
                return self.pause_s  # another filler holds the lease
            added = await self.fill_once()
        except (AiNotReadyError, AiUnavailableError, StoreUnavailableError) as exc:
            self.failures += 1
            cause = {AiNotReadyError: "not_ready", AiUnavailableError: "ai_unavailable"}.get(
                type(exc), "store"
            )
            self.pool.telemetry.pool_fill_errors.labels(cause).inc()
            wait = min(self.backoff_max_s, self.pause_s * 2**self.failures)
            logger.warning("pool filler failed", extra={"fields": {"cause": cause, "wait_s": wait}})
            return wait
        self.failures = 0
        return 0.0 if added else self.pause_s

    async def run(self) -> None:
        """Fills until cancelled; an unexpected error is logged and waited out, never the end of the filler."""
        logger.info("pool filler started", extra={"fields": {"depth": self.depth, "batch": self.batch}})
        while True:
            try:
                wait = await self.step()
            except Exception:  # a bug must not silently stop every future Phase B issue
                logger.exception("pool filler error")
                self.pool.telemetry.pool_fill_errors.labels("internal").inc()
                wait = self.backoff_max_s
            await asyncio.sleep(wait)
