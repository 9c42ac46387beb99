"""Open-loop capacity benchmark: whole challenges through nginx at a ramped arrival rate.

Each arriving person, on schedule whatever the answers to earlier ones (open loop: fixed-interval or Poisson
arrivals), runs one whole challenge through nginx on loopback from their own loopback address:

1. ``create``: ``POST /api/v1/challenge/sessions``;
2. ``phase_a_issue`` and ``phase_a``: a perforation, answered with a held-out SapiMouse person's stroke (the
   test users of ``params.sapimouse_split``, as the red team's :class:`~redteam.humans.HeldOutPeople`; here
   :class:`BenchPeople`), sent after waiting as long as the stroke lasted; a ``retry`` gets a new perforation
   (at most 3 tries);
3. ``phase_b_issue`` and ``phase_b_answer``: an image problem from the pool, answered as the red team's solver
   bots answer it (the answer oracle of :mod:`redteam.oracle`, which recorded every problem the filler's AI
   server made) with a grid answer composed from the same person's recorded strokes;
4. ``siteverify``: the site's server verifies the pass token (keep-alive connections from ``--site-servers``
   addresses of its own).

The arrival rate ramps in steps of ``--step-s`` seconds (``--rates``), each followed by a drain of the
challenges still running; the ramp stops by itself after the first step that misses the target (p99 of every
step ≤ 250 ms with no errors) or at its last rate. Per step it reports offered and achieved rates, p50/p99 of
every step, errors by kind, and the CPU milliseconds per completed challenge of each process group (nginx,
backend, AI server, Redis), read from ``/proc`` (:mod:`bench.procstat`) before and after the step: the portable
number capacity is planned from. Two configurations run in turn: 1 backend worker and 1 AI server worker, then
2 and 2, both on Redis. In the same run, the HTTP stack's ceiling (:mod:`bench.trivial`, the same uvicorn
set-up) and each service's rate per core as a ratio of it.

**The site under load and the limits.** The site uses integrity policy ``log`` (the benchmark sends no SDK
evidence) and asks both phases. No product default is changed: the limits are kept and not met, because every
person arrives from a distinct loopback address, each in its own /24 (:func:`source_address`), as arriving
people come from their own networks; nginx (``TRUSTED_PROXIES=127.0.0.1``) forwards that address. nginx's
siteverify limit (30 requests/s per address, burst 60) is kept too: the site's server spreads its calls over
``--site-servers`` addresses (8 by default: up to 240 verifications/s), as a site with several servers does.
People ask for gzip, as browsers do, so nginx compresses the JSON answers (the Phase B problem above all).

**People and problems.** The backend refuses a movement shape that answered another session within the replay
window, and the held-out people hold a few hundred tears and grid answers. So every step starts from a fresh
world: the store is flushed (no challenge is running between steps), the problem pool is refilled and the
people start over. The pool is filled once, before the ramp, by the real
:class:`~web.backend.app.services.problem_pool.PoolFiller` from a one-worker AI server with the oracle; its
problems (and their answers, asked from the oracle once) are pushed again into each step's fresh pool, each
served once per step. The backends run with ``PROBLEM_POOL_FILLER=false`` (as beside the Kubernetes
``pool-filler``): problem generation is reported apart, as CPU milliseconds per problem.

**Models.** ``--models champions`` serves the project's registry (``make train``) and its curated bank, as the
red team does. ``--models small`` (chosen by ``auto`` when a champion is missing) trains a small real Phase A
Isolation Forest on the SapiMouse *train* users (split by person from the people under load) into a temporary
registry, and runs Phase B on the tests' contract double (:mod:`tests.phase_b_double`: the real generator on
real tiles, no classifier check, a stand-in score), as the browser tests do; the report says which ran.

Loopback only, bounded (every step ``--step-s`` seconds plus a drain of at most ``--drain-s``); writes
``reports/bench/capacity.json``. The machine may be shared: the load average before and after is recorded.

    python -m bench.capacity [--rates 2,4,6,8,10,12,16,20,24] [--step-s 8] [--arrivals fixed|poisson]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import math
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import orjson

from bench.backend import start_backend, stop, wait_healthy_backend
from bench.http1 import HOST, Conn
from bench.procstat import CpuMeter
from bench.readiness import wait_ok
from bench.redis_server import start_redis
from bench.serving import free_port, measure_http, start_server, wait_healthy
from bench.trivial import TRIVIAL_PATH
from redteam.humans import HeldOutPeople, held_out_strokes
from tcurity.config import PROJECT_ROOT, params, resolve, setup_logging
from tcurity.data.adapter import SessionStrokes, press_hold_ms
from tcurity.traces import GridTask, PerforationTask, make_trace, with_browser_signals
from web.backend.app.cli import sites_add
from web.backend.app.core.config import Settings
from web.backend.app.sites import SitePolicy

logger = logging.getLogger("bench.capacity")
OUT = PROJECT_ROOT / "reports/bench/capacity.json"
SESSIONS = "/api/v1/challenge/sessions"
STEPS = ("create", "phase_a_issue", "phase_a", "phase_b_issue", "phase_b_answer", "siteverify")
P99_LIMIT_MS = 250.0
MAX_TRIES = 3
POOL_MARGIN = 1.3  # problems per person a step's pool holds (a Phase B retry takes another)
PROCESSES = ("nginx", "backend", "ai_server", "redis")
POOL_TTL_S = 3600
NOTES = (
    "Loopback, one machine: the load generator, nginx, the backend, the AI server and Redis share its cores, and "
    "other jobs may run meanwhile (load averages, and each step's service_cpu_cores: the services' CPU over the "
    "step's wall time). A step's latencies then include waiting for a core; cpu_ms_per_challenge (summed over "
    "the clean steps, from /proc, 10 ms ticks) is the portable figure. Latency of create runs from the "
    "scheduled arrival; the others from their own send. Every step starts from a flushed store and a refilled "
    "pool; problem_generation is the pool filler's AI server CPU per problem, apart from the steps."
)
REQUEST_TIMEOUT_S = 15.0


# ---- the generator's pure logic (tests/bench/test_capacity.py) ----


def arrival_offsets(
    rate_per_s: float, duration_s: float, poisson: bool = False, seed: int = 0
) -> list[float]:
    """When each person of a step arrives, in seconds from the step's start.

    Fixed-interval arrivals are ``k / rate`` for every ``k`` with ``k / rate < duration_s``; Poisson arrivals have
    exponential gaps of mean ``1 / rate`` (seeded), cut at ``duration_s``. Open loop: the schedule never waits for
    an answer.
    """
    if rate_per_s <= 0 or duration_s <= 0:
        return []
    if not poisson:
        return [k / rate_per_s for k in range(math.ceil(duration_s * rate_per_s - 1e-9))]
    rng = np.random.default_rng(seed)
    offsets: list[float] = []
    now = float(rng.exponential(1.0 / rate_per_s))
    while now < duration_s:
        offsets.append(now)
        now += float(rng.exponential(1.0 / rate_per_s))
    return offsets


def source_address(i: int) -> str:
    """Person ``i``'s loopback address, each person in a /24 of their own for the first 65,280 people.

    ``127.S.T.H`` with ``T = i mod 256`` (varies fastest), ``S = 1 + (i div 256) mod 255`` (never 0, so never
    ``127.0.0.1``, nginx's own address, nor the site servers' ``127.0.255.*``), ``H = 2 + (i div 65280) mod 253``.
    """
    third = i % 256
    second = 1 + (i // 256) % 255
    host = 2 + (i // (256 * 255)) % 253
    return f"127.{second}.{third}.{host}"


def site_server_address(k: int) -> str:
    """The site's server number ``k`` (``127.0.255.2`` onwards): it calls siteverify."""
    return f"127.0.255.{2 + k % 250}"


@dataclass
class StepLog:
    """What one step's people met: latencies by step, outcomes, errors by kind, requests by service."""

    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    backend_requests: int = 0
    ai_requests: int = 0
    arrived: int = 0
    launch_lag_ms: list[float] = field(default_factory=list)

    def fail(self, kind: str, sample: str) -> None:
        """Counts an error of ``kind`` (``<step>:<status or exception>``) and keeps a few samples."""
        self.errors[kind] += 1
        if len(self.error_samples) < 8:
            self.error_samples.append(f"{kind} {sample[:200]}")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, as numpy), or ``None`` with no values."""
    return float(np.percentile(values, q)) if len(values) else None


def step_latencies(log: StepLog) -> dict[str, dict[str, float | int | None]]:
    """p50, p99 and count of every step's latencies."""
    return {
        s: {
            "p50_ms": percentile(log.latencies_ms[s], 50),
            "p99_ms": percentile(log.latencies_ms[s], 99),
            "n": len(log.latencies_ms[s]),
        }
        for s in STEPS
    }


def meets_target(latencies: dict[str, dict[str, float | int | None]], errors: int) -> bool:
    """Whether p99 of every step is at most :data:`P99_LIMIT_MS` with no errors (a step never reached fails)."""
    p99s = [v["p99_ms"] for v in latencies.values()]
    return errors == 0 and all(p is not None and p <= P99_LIMIT_MS for p in p99s)


def per_challenge_ms(cpu_s: dict[str, float], completed: int) -> dict[str, float | None]:
    """CPU milliseconds per completed challenge of each process group, and their ``total``."""
    if completed <= 0:
        return {**{name: None for name in cpu_s}, "total": None}
    out: dict[str, float | None] = {name: s * 1000.0 / completed for name, s in cpu_s.items()}
    out["total"] = sum(cpu_s.values()) * 1000.0 / completed
    return out


def ratio_to_trivial(
    cpu_s: float, requests: int, trivial_cpu_ms_per_request: float
) -> dict[str, float | None]:
    """A service's CPU per request, its requests per CPU-core second, and that rate over the trivial endpoint's."""
    if requests <= 0 or cpu_s <= 0:
        return {"cpu_ms_per_request": None, "requests_per_core_s": None, "ratio_to_trivial": None}
    per_request = cpu_s * 1000.0 / requests
    return {
        "cpu_ms_per_request": per_request,
        "requests_per_core_s": 1000.0 / per_request,
        "ratio_to_trivial": trivial_cpu_ms_per_request / per_request,
    }


def summarize_step(
    rate_per_s: float,
    duration_s: float,
    log: StepLog,
    cpu_s: dict[str, float],
    trivial_cpu_ms_per_request: float | None,
) -> dict[str, Any]:
    """One step's report: offered and achieved rates, latencies, outcomes, errors, CPU per challenge."""
    latencies = step_latencies(log)
    errors = sum(log.errors.values())
    completed = log.outcomes.get("passed", 0)
    result: dict[str, Any] = {
        "offered_per_s": rate_per_s,
        "arrived": log.arrived,
        "achieved_per_s": completed / duration_s,
        "completed": completed,
        "outcomes": dict(sorted(log.outcomes.items())),
        "errors": errors,
        "errors_by_kind": dict(sorted(log.errors.items())),
        "error_samples": log.error_samples,
        "steps": latencies,
        "launch_lag_p99_ms": percentile(log.launch_lag_ms, 99),
        "meets_target": meets_target(latencies, errors),
        "cpu_s": cpu_s,
        "cpu_ms_per_challenge": per_challenge_ms(
            {k: v for k, v in cpu_s.items() if k in PROCESSES}, completed
        ),
        "backend_requests": log.backend_requests,
        "ai_requests": log.ai_requests,
    }
    if trivial_cpu_ms_per_request:
        result["vs_trivial"] = {
            "backend": ratio_to_trivial(
                cpu_s.get("backend", 0.0), log.backend_requests, trivial_cpu_ms_per_request
            ),
            "ai_server": ratio_to_trivial(
                cpu_s.get("ai_server", 0.0), log.ai_requests, trivial_cpu_ms_per_request
            ),
        }
    return result


def own_cpu_s() -> float:
    """User plus system CPU seconds of this process (the load generator), its threads included."""
    times = os.times()
    return times.user + times.system


def pooled(steps: Sequence[dict[str, Any]], trivial_cpu_ms_per_request: float | None) -> dict[str, Any]:
    """CPU per challenge (and per request against the trivial endpoint) over every step without errors: the
    CPU and the challenges summed first, so that the clock's 10 ms ticks weigh less than in one step."""
    clean = [s for s in steps if s["errors"] == 0]
    completed = sum(int(s["completed"]) for s in clean)
    cpu = {name: sum(float(s["cpu_s"].get(name, 0.0)) for s in clean) for name in PROCESSES}
    result: dict[str, Any] = {
        "steps": [s["offered_per_s"] for s in clean],
        "completed": completed,
        "cpu_ms_per_challenge": per_challenge_ms(cpu, completed),
        "load_generator_cpu_ms_per_challenge": (
            sum(float(s["cpu_s"].get("load_generator", 0.0)) for s in clean) * 1000.0 / completed
            if completed
            else None
        ),
        "backend_requests_per_challenge": (
            sum(int(s["backend_requests"]) for s in clean) / completed if completed else None
        ),
        "ai_requests_per_challenge": sum(int(s["ai_requests"]) for s in clean) / completed
        if completed
        else None,
    }
    if trivial_cpu_ms_per_request:
        result["vs_trivial"] = {
            "backend": ratio_to_trivial(
                cpu["backend"], sum(int(s["backend_requests"]) for s in clean), trivial_cpu_ms_per_request
            ),
            "ai_server": ratio_to_trivial(
                cpu["ai_server"], sum(int(s["ai_requests"]) for s in clean), trivial_cpu_ms_per_request
            ),
        }
    return result


def highest_passing_rate(steps: Iterable[dict[str, Any]]) -> float | None:
    """The highest offered rate that met the target with every lower step meeting it too (the ramp in order)."""
    best = None
    for step in sorted(steps, key=lambda s: float(s["offered_per_s"])):
        if not step["meets_target"]:
            break
        best = float(step["offered_per_s"])
    return best


# ---- the load ----


class BenchPeople(HeldOutPeople):
    """The held-out people with every recorded session serving both tears and grid answers.

    :class:`~redteam.humans.HeldOutPeople` gives half the sessions to tears and half to grids so that an attacker
    never meets a stroke twice; here the backend compares a tear only with tears and a grid answer only with grid
    answers (the replay index is per task kind), so each session serves both and a step holds twice the people.
    Each stroke still answers at most one tear and one grid answer.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed=seed)
        p = params()
        by_session: dict[tuple[str, str], list[Any]] = {}
        for s in held_out_strokes(p, self.users):
            by_session.setdefault((s.user, s.session), []).append(s)
        holds = [press_hold_ms(s.path) for ss in by_session.values() for s in ss if s.kind == "drag"]
        keys = sorted(by_session)
        ordered = {key: sorted(by_session[key], key=lambda s: s.stroke_id) for key in keys}
        tears = [s for key in keys for s in ordered[key]]
        self._tears = [tears[i] for i in self.rng.permutation(len(tears))]
        self._pools = [SessionStrokes(list(ordered[key]), holds) for key in keys]

    def supply(self) -> tuple[int, int]:
        """Strokes left for tears, and grid answers of three moves left (an upper bound of each)."""
        points = sum(sum(s.kind == "point" for s in pool.strokes) for pool in self._pools)
        return len(self._tears), points // 6


class SiteServers:
    """The site's servers: keep-alive connections from a few addresses, taken in turn, opened as needed."""

    def __init__(self, port: int, addresses: int) -> None:
        self.port = port
        self.addresses = addresses
        self.free: dict[int, list[Conn]] = {k: [] for k in range(addresses)}
        self.turn = 0

    async def verify(self, body: bytes) -> tuple[int, bytes]:
        k = self.turn % self.addresses
        self.turn += 1
        conn = (
            self.free[k].pop()
            if self.free[k]
            else Conn(self.port, site_server_address(k), gzip=True, host=HOST)
        )
        try:
            result = await conn.request(
                "POST", "/api/v1/siteverify", body, "application/x-www-form-urlencoded"
            )
        except BaseException:
            conn.close()
            raise
        self.free[k].append(conn)
        return result

    def close(self) -> None:
        for conns in self.free.values():
            for conn in conns:
                conn.close()


@dataclass
class World:
    """What a step's people need: the site, the people, the problems' answers, where nginx listens."""

    port: int
    sitekey: str
    secret: str
    people: BenchPeople
    answers: dict[str, list[str]]
    site: SiteServers


class PersonError(Exception):
    """A step of one person's challenge failed (``kind`` is ``<step>:<reason>``)."""

    def __init__(self, kind: str, sample: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.sample = sample


async def timed(
    log: StepLog, step: str, conn: Conn, path: str, body: bytes = b"", start: float | None = None
) -> dict[str, Any]:
    """POSTs through nginx, records the latency (from ``start`` when given: the scheduled arrival), and returns
    the JSON body of a 200/201 answer."""
    begin = time.perf_counter() if start is None else start
    log.backend_requests += 1
    try:
        status, raw = await asyncio.wait_for(conn.request("POST", path, body), REQUEST_TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
        conn.close()
        raise PersonError(f"{step}:{type(exc).__name__}", str(exc)) from exc
    log.latencies_ms[step].append((time.perf_counter() - begin) * 1000.0)
    if status not in (200, 201):
        raise PersonError(f"{step}:{status}", raw.decode(errors="replace"))
    return dict(orjson.loads(raw))


async def phase_a(world: World, log: StepLog, conn: Conn, base: str) -> str:
    """Tears until the outcome is not ``retry`` (at most :data:`MAX_TRIES`); returns the last outcome."""
    outcome = "retry"
    for _ in range(MAX_TRIES):
        issued = await timed(log, "phase_a_issue", conn, f"{base}/phase-a")
        task = PerforationTask.model_validate(issued["task"])
        trace = with_browser_signals(make_trace(world.people.tear(task), task))
        await asyncio.sleep(float(trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
        body = orjson.dumps({"trace": trace.model_dump(mode="json")})
        log.ai_requests += 1
        outcome = str((await timed(log, "phase_a", conn, f"{base}/phase-a/answer", body))["outcome"])
        if outcome != "retry":
            break
    return outcome


async def phase_b(world: World, log: StepLog, conn: Conn, base: str) -> tuple[str, str | None]:
    """Solves image problems with the oracle's answer until not ``retry``; returns the outcome and the token."""
    outcome, token = "retry", None
    for _ in range(MAX_TRIES):
        issued = await timed(log, "phase_b_issue", conn, f"{base}/phase-b")
        problem = issued["problem"]
        answer = world.answers.get(problem["problem_id"])
        if answer is None:
            raise PersonError("phase_b_issue:unknown_problem", str(problem["problem_id"]))
        positions = {t["tile_id"]: int(t["position"]) for t in problem["tiles"]}
        task = GridTask.model_validate(issued["task"])
        moves = [(positions[t], k) for k, t in enumerate(answer)]
        trace = with_browser_signals(make_trace(world.people.grid(task, moves), task))
        await asyncio.sleep(float(trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
        body = orjson.dumps({"trace": trace.model_dump(mode="json"), "tile_ids": answer})
        log.ai_requests += 1
        result = await timed(log, "phase_b_answer", conn, f"{base}/phase-b/answer", body)
        outcome, token = str(result["outcome"]), result.get("token")
        if outcome != "retry":
            break
    return outcome, token


async def person(world: World, log: StepLog, index: int, due: float) -> None:
    """One whole challenge from its own address; the outcome or the error goes into ``log``."""
    log.arrived += 1
    log.launch_lag_ms.append((time.perf_counter() - due) * 1000.0)
    conn = Conn(world.port, source_address(index), gzip=True, host=HOST)
    try:
        body = orjson.dumps({"sitekey": world.sitekey, "action": "booking"})
        created = await timed(log, "create", conn, SESSIONS, body, start=due)
        base = f"{SESSIONS}/{created['session_id']}"
        if await phase_a(world, log, conn, base) != "next_phase":
            log.outcomes["refused_phase_a"] += 1
            return
        outcome, token = await phase_b(world, log, conn, base)
        if outcome != "passed" or not token:
            log.outcomes["refused_phase_b"] += 1
            return
        conn.close()  # the person is done; the site's server verifies
        form = urlencode({"secret": world.secret, "response": token}).encode()
        begin = time.perf_counter()
        log.backend_requests += 1
        try:
            status, raw = await asyncio.wait_for(world.site.verify(form), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            raise PersonError(f"siteverify:{type(exc).__name__}", str(exc)) from exc
        log.latencies_ms["siteverify"].append((time.perf_counter() - begin) * 1000.0)
        if status != 200:
            raise PersonError(f"siteverify:{status}", raw.decode(errors="replace"))
        verdict = orjson.loads(raw)
        log.outcomes["passed" if verdict.get("success") else "siteverify_refused"] += 1
    except PersonError as exc:
        log.fail(exc.kind, exc.sample)
    except LookupError:  # the step ran out of held-out people: not the service's doing, the ramp stops
        log.outcomes["people_exhausted"] += 1
    finally:
        conn.close()


async def launch(
    offsets: Sequence[float], start: float, spawn: Callable[[int, float], Coroutine[Any, Any, None]]
) -> list[asyncio.Task[None]]:
    """Starts ``spawn(k, start + offsets[k])`` for each arrival when its time comes, never waiting for an
    earlier one to finish (open loop); returns the running tasks."""
    tasks: list[asyncio.Task[None]] = []
    for k, offset in enumerate(offsets):
        due = start + offset
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(spawn(k, due)))
    return tasks


async def run_step(
    world: World, rate: float, step_s: float, drain_s: float, poisson: bool, seed: int, first: int
) -> StepLog:
    """Launches people on the arrival schedule, then waits at most ``drain_s`` for the last ones to finish."""
    log = StepLog()

    def spawn(k: int, due: float) -> Coroutine[Any, Any, None]:
        return person(world, log, first + k, due)

    offsets = arrival_offsets(rate, step_s, poisson, seed)
    tasks = await launch(offsets, time.perf_counter(), spawn)
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=drain_s)
        for task in pending:
            task.cancel()
        if pending:
            log.errors["drain:timeout"] += len(pending)
    world.site.close()
    return log


# ---- the stack ----


@dataclass
class Models:
    """Where the AI servers' models come from, and the app factory that serves them with the oracle."""

    kind: str
    app: str
    env: dict[str, str]
    note: str


def champions_present() -> bool:
    """Whether the project's registry holds every champion serving needs."""
    from tcurity import registry
    from tcurity.model_ops import roles

    registry.configure()
    names = [role.name for role in roles()]
    return all(registry.version_by_alias(n, registry.CHAMPION) is not None for n in names)


def small_models(folder: Path) -> Models:
    """A small real Phase A champion trained on the SapiMouse train users into a temporary registry, and the
    tests' Phase B contract double on a tiny bank of real tiles."""

    from tcurity import registry
    from tcurity.data.sapimouse import kept_strokes
    from tests.images.tiny import write_tiny_bank
    from tests.serving.conftest import promote, train_and_register

    p = params()
    uri = f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
    (folder / "mlruns").mkdir()
    with registry.using_registry(uri):
        strokes = kept_strokes(
            resolve(p.data.sapimouse_dir), p.prepare_humans, set(p.sapimouse_split.train_users)
        )
        promote(train_and_register([s.path for s in strokes], seed=1))
    bank = write_tiny_bank(folder / "bank", tiles_per_class=7)
    return Models(
        kind="small",
        app="tests.browser.ai_double:create_app",
        env={"MLFLOW_TRACKING_URI": uri, "TEST_BANK_DIR": str(bank)},
        note=(
            f"Phase A: a small real Isolation Forest fitted on {len(strokes)} strokes of the SapiMouse train users; "
            "Phase B: the tests' contract double (real generator on real tiles, no classifier check, stand-in "
            "score), so the AI server's Phase B score and the problems' classifier check cost less than with the "
            "champions (bench/pool.py measures the real check's filler rate)"
        ),
    )


def champion_models() -> Models:
    from tcurity.config import tracking_uri

    return Models(
        kind="champions",
        app="redteam.oracle:create_app",
        env={
            "MLFLOW_TRACKING_URI": tracking_uri(),
            "PHASE_B_PROBLEM_IMAGE_ROOT": str(PROJECT_ROOT / "data/bank"),
        },
        note="the project's registry champions and curated bank (make train)",
    )


def start_ai(port: int, token: str, workers: int, models: Models) -> subprocess.Popen[bytes]:
    """The AI server (``models.app`` under ``bench.serving``'s uvicorn set-up), with the models' environment."""
    saved = {k: os.environ.get(k) for k in models.env}
    os.environ.update(models.env)
    try:
        return start_server(port, token, workers, models.app)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_nginx(folder: Path, port: int, backend_port: int) -> subprocess.Popen[bytes]:
    """``scripts/nginx.sh run`` (the product's config, rendered) in its own process group."""
    env = {
        **os.environ,
        "RUN_DIR": str(folder / "nginx-run"),
        "NGINX_PORT": str(port),
        "BACKEND_PORT": str(backend_port),
        "DEMO_PORT": str(free_port()),
    }
    cmd = ["bash", "scripts/nginx.sh", "run"]
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def wait_nginx(port: int, deadline_s: float = 30.0) -> None:
    wait_ok(f"http://127.0.0.1:{port}/health", "nginx", deadline_s, interval_s=0.2)


def backend_env(
    folder: Path, ai_url: str, token: str, signing_key: str, pepper: str, redis_url: str
) -> dict[str, str]:
    """The backend's environment: production, on Redis, the filler apart, nginx trusted; no limit changed."""
    return {
        "TCURITY_ENV": "production",
        "AI_SERVER_URL": ai_url,
        "AI_SERVER_TOKEN": token,
        "TOKEN_SIGNING_KEY": signing_key,
        "SITE_SECRET_PEPPER": pepper,
        "SITES_FILE": str(folder / "sites.json"),
        "REDIS_URL": redis_url,
        "TRUSTED_PROXIES": "127.0.0.1",
        "PROBLEM_POOL_FILLER": "false",
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }


def fill_pool(
    folder: Path, models: Models, token: str, redis_url: str, redis_pid: int, depth: int
) -> tuple[dict[str, Any], list[bytes], dict[str, list[str]]]:
    """Fills the pool once with the real filler from a one-worker AI server with the oracle; returns the fill's
    figures, the problems and their answers (asked from the oracle, as the red team's solver bots do)."""
    from bench.pool import fill

    port = free_port()
    server = start_ai(port, token, 1, models)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, deadline_s=180.0)
        meter = CpuMeter({"ai_server": server.pid, "redis": redis_pid})
        meter.start()
        filled = asyncio.run(fill(redis_url, base, token, depth, 8))
        cpu = meter.read()
        blobs: list[bytes] = filled.pop("_blobs")
        answers = {}
        with httpx.Client(base_url=base, timeout=10.0) as client:
            for blob in blobs:
                problem_id = str(orjson.loads(blob)["view"]["problem_id"])
                answers[problem_id] = list(client.get(f"/oracle/answers/{problem_id}").json()["answer"])
    finally:
        stop(server)
    filled["cpu_ms_per_problem"] = {k: v * 1000.0 / max(1, len(blobs)) for k, v in cpu.items()}
    return filled, blobs, answers


def reset_store(redis_url: str, blobs: list[bytes]) -> None:
    """A fresh world for a step: the store flushed (sessions, limits, replay marks), the pool refilled."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushall()
    finally:
        client.close()

    async def push() -> None:
        from web.backend.app.store.redis_store import RedisStore

        store = RedisStore(redis_url, timeout_s=10.0)
        try:
            for start in range(0, len(blobs), 500):
                await store.push_problems(blobs[start : start + 500], POOL_TTL_S)
        finally:
            await store.close()

    asyncio.run(push())


@dataclass
class Shared:
    """What both configurations share: secrets, models, the site, the people, the pool's problems."""

    folder: Path
    models: Models
    token: str
    signing_key: str
    pepper: str
    site: dict[str, str]
    people: BenchPeople
    blobs: list[bytes]
    answers: dict[str, list[str]]
    trivial_cpu_ms: float | None


def run_configuration(args: argparse.Namespace, shared: Shared, workers: int) -> dict[str, Any]:
    """One configuration (``workers`` backend workers and AI server workers, on Redis) through the ramp."""
    folder = shared.folder / f"w{workers}"
    folder.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    steps: list[dict[str, Any]] = []
    warmup: dict[str, Any] = {}
    try:
        processes["redis"], redis_url = start_redis(folder)
        ai_port, backend_port, nginx_port = free_port(), free_port(), free_port()
        processes["ai_server"] = start_ai(ai_port, shared.token, workers, shared.models)
        wait_healthy(f"http://127.0.0.1:{ai_port}", deadline_s=180.0)
        ai_url = f"http://127.0.0.1:{ai_port}"
        env = backend_env(shared.folder, ai_url, shared.token, shared.signing_key, shared.pepper, redis_url)
        processes["backend"] = start_backend(backend_port, env, workers)
        wait_healthy_backend(backend_port)
        processes["nginx"] = start_nginx(folder, nginx_port, backend_port)
        wait_nginx(nginx_port)
        meter = CpuMeter({name: processes[name].pid for name in PROCESSES})
        first = 0
        for k, rate in enumerate([args.warmup_rate, *args.rates]):
            reset_store(redis_url, shared.blobs)
            site = SiteServers(nginx_port, args.site_servers)
            world = World(
                nginx_port,
                shared.site["sitekey"],
                shared.site["secret"],
                copy.deepcopy(shared.people),
                shared.answers,
                site,
            )
            own = own_cpu_s()
            meter.start()
            began = time.perf_counter()
            log = asyncio.run(
                run_step(world, rate, args.step_s, args.drain_s, args.arrivals == "poisson", k, first)
            )
            cpu = meter.read()
            cpu["load_generator"] = own_cpu_s() - own
            first += log.arrived
            summary = summarize_step(rate, args.step_s, log, cpu, shared.trivial_cpu_ms)
            summary["wall_s"] = time.perf_counter() - began
            # How busy the services kept the cores over the step and its drain (2.0 = both cores of this machine).
            summary["service_cpu_cores"] = sum(cpu[name] for name in PROCESSES) / summary["wall_s"]
            summary["load_average_1m"] = os.getloadavg()[0]
            if k == 0:  # reported apart: first requests load code and open connections
                logger.info("warm-up at %.1f/s: %s", rate, summary["outcomes"])
                warmup = {
                    key: summary[key]
                    for key in ("offered_per_s", "outcomes", "errors_by_kind", "error_samples")
                }
                continue
            logger.info(
                "%d+%d workers, %.1f/s: achieved %.2f/s, p99 %s, errors %s",
                workers,
                workers,
                rate,
                summary["achieved_per_s"],
                {s: round(v["p99_ms"] or -1) for s, v in summary["steps"].items()},
                summary["errors_by_kind"],
            )
            steps.append(summary)
            if not summary["meets_target"] or summary["outcomes"].get("people_exhausted"):
                break
    finally:
        for name in ("nginx", "backend", "ai_server", "redis"):
            if name in processes:
                stop(processes[name])
    return {**report_configuration(workers, steps, shared.trivial_cpu_ms), "warmup": warmup}


def stopped_by(steps: Sequence[dict[str, Any]]) -> str:
    """Why the ramp ended: ``target`` (its last step missed it), ``people`` (a step ran out of held-out
    people, so higher rates could not be offered) or ``ramp_end`` (every rate was run)."""
    if not steps:
        return "ramp_end"
    last = steps[-1]
    if not last["meets_target"]:
        return "target"
    return "people" if last["outcomes"].get("people_exhausted") else "ramp_end"


def report_configuration(
    workers: int, steps: list[dict[str, Any]], trivial_cpu_ms_per_request: float | None
) -> dict[str, Any]:
    """A configuration's ramp, its highest passing rate and the CPU per challenge over its clean steps."""
    return {
        "backend_workers": workers,
        "ai_workers": workers,
        "store": "redis",
        "highest_rate_meeting_target_per_s": highest_passing_rate(steps),
        "stopped_by": stopped_by(steps),
        "highest_rate_is_lower_bound": stopped_by(steps) != "target",
        **pooled(steps, trivial_cpu_ms_per_request),
        "ramp": steps,
    }


def measure_trivial(token: str, requests: int) -> dict[str, Any]:
    """The HTTP stack's ceiling: :mod:`bench.trivial` under the same uvicorn set-up, one worker, closed loop."""
    body = orjson.dumps({"trace": {"points": {"x": [0.5] * 200, "y": [0.5] * 200}}})
    ns = argparse.Namespace(requests=requests, concurrency=32, workers=1)
    result = measure_http("bench.trivial:create_app", TRIVIAL_PATH, token, [body], ns)
    return {
        "requests_per_s": result["http_throughput_rps"],
        "p99_ms": result["http_p99_ms"],
        "cpu_ms_per_request": result["server_cpu_ms_per_request"],
        "requests_per_core_s": 1000.0 / result["server_cpu_ms_per_request"],
        "concurrency": 32,
        "workers": 1,
        "errors": result["http_errors"],
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", default="2,4,6,8,10,12,16,20,24", help="arrival rates of the ramp, per second"
    )
    parser.add_argument("--step-s", type=float, default=8.0, help="seconds of arrivals per step")
    parser.add_argument(
        "--drain-s", type=float, default=30.0, help="the longest wait for a step's last people"
    )
    parser.add_argument(
        "--warmup-rate", type=float, default=2.0, help="a first, unreported step at this rate"
    )
    parser.add_argument("--arrivals", choices=("fixed", "poisson"), default="fixed")
    parser.add_argument("--workers", default="1,2", help="configurations: backend and AI server workers each")
    parser.add_argument("--site-servers", type=int, default=8, help="addresses the site verifies from")
    parser.add_argument("--models", choices=("auto", "champions", "small"), default="auto")
    parser.add_argument("--trivial-requests", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in str(args.rates).split(",") if r.strip()]
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    return args


def main() -> None:
    args = parse_args()
    setup_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="tcurity-bench-capacity-"))
    try:
        use_champions = args.models == "champions" or (args.models == "auto" and champions_present())
        models = champion_models() if use_champions else small_models(folder)
        logger.info("models: %s", models.note)
        token, signing_key, pepper = (secrets.token_urlsafe(32) for _ in range(3))
        settings = Settings.model_validate(
            {
                "tcurity_env": "production",
                "ai_server_token": token,
                "token_signing_key": signing_key,
                "site_secret_pepper": pepper,
                "sites_file": str(folder / "sites.json"),
            }
        )
        site = sites_add(settings, "bench", [HOST], SitePolicy(phase_b="always", integrity="log"))
        people = BenchPeople()
        logger.info("held-out people per step (tears, grid answers): %s", people.supply())
        depth = math.ceil(max([args.warmup_rate, *args.rates]) * args.step_s * POOL_MARGIN) + 16
        fill_redis, fill_url = start_redis(folder)
        try:
            filled, blobs, answers = fill_pool(folder, models, token, fill_url, fill_redis.pid, depth)
        finally:
            stop(fill_redis)
        trivial = measure_trivial(token, args.trivial_requests)
        shared = Shared(
            folder,
            models,
            token,
            signing_key,
            pepper,
            site,
            people,
            blobs,
            answers,
            trivial["cpu_ms_per_request"],
        )
        configurations = [run_configuration(args, shared, w) for w in args.workers]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "notes": NOTES,
        "models": {"kind": models.kind, "note": models.note},
        "target": {"p99_ms_every_step": P99_LIMIT_MS, "errors": 0},
        "steps_measured": list(STEPS),
        "arrivals": args.arrivals,
        "step_s": args.step_s,
        "rates": args.rates,
        "people": {"population": "sapimouse", "users": people.users},
        "site": {"phase_b": "always", "integrity": "log", "site_servers": args.site_servers},
        "trivial": trivial,
        "problem_generation": filled,
        "configurations": configurations,
        "cpu_count": os.cpu_count(),
        "load_average_1m_before": load_before,
        "load_average_1m_at_end": os.getloadavg()[0],
        "duration_s": time.perf_counter() - began,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    logger.info(
        "capacity: %s",
        json.dumps({c["backend_workers"]: c["highest_rate_meeting_target_per_s"] for c in configurations}),
    )


if __name__ == "__main__":
    main()
