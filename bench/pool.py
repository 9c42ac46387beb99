"""Benchmark of the Phase B problem pool: the filler's sustained rate, then issuing Phase B from the pool.

Everything runs as separate processes on loopback, bounded in count and time, and stops by itself:

1. **Fill.** A uvicorn process answers ``POST /v1/phase-b/problems`` with the AI server's own route body
   (:func:`serving.routes.phase_b.answer_for_backend`, :mod:`serving.schemas`) from the real
   :class:`~tcurity.problems.ProblemGenerator` on a bank of real tiles (``--tiles-per-class`` of each class),
   with the classifier check on CPU by an EfficientNet-Lite0 (the converted ImageNet backbone with a head fitted
   to that bank: ``tests/images/tiny.py``; no trained champion is needed) at ``--input-size``. The backend's
   :class:`~web.backend.app.services.problem_pool.PoolFiller`, with the real ``AiClient`` and a real
   ``redis-server``, fills the empty pool to ``--depth``: problems per second from first call to full.
2. **Issue.** A real uvicorn backend (``python -m web.backend``, ``REDIS_URL``, its own filler off) serves
   ``POST /api/v1/challenge/sessions/{id}/phase-b``: ``--issues`` open loop at each rate of ``--ramp`` and then
   at ``--rate`` (fixed arrivals, at most ``--concurrency`` in flight, latency from each scheduled arrival),
   then ``--issues`` closed loop from ``--concurrency`` keep-alive clients. The pool holds the filled problems
   re-keyed (fresh problem and tile ids, same bytes otherwise), one per issue plus a warm-up; the sessions are written into the store already in ``phase_b`` (the Phase A path is measured by
   ``bench/backend.py``; from the session's lookup on, the request takes the production path). Reports p50/p99
   latency, problems issued per second, CPU milliseconds per issue of the backend and Redis (``/proc``), and
   checks that no problem was issued twice.

Writes ``reports/bench/pool.json``. The machine may be shared: the load average before and after is recorded.

    python -m bench.pool [--issues 1500] [--ramp 100,150] [--rate 200] [--concurrency 200] [--depth 160]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from bench.backend import (
    HOST,
    percentile,
    start_backend,
    stop,
    wait_healthy_backend,
)
from bench.http1 import Conn
from bench.procstat import CpuMeter
from bench.redis_server import start_redis
from bench.serving import free_port, wait_healthy
from serving.schemas import ModelRef, Problem, ProblemsRequest, ProblemsResponse
from tcurity.config import PROJECT_ROOT, params, setup_logging
from web.backend.app.cli import sites_add
from web.backend.app.core.config import Settings
from web.backend.app.core.security import new_id
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.ai_client import AiClient
from web.backend.app.services.problem_pool import PooledProblem, PoolFiller, ProblemPool
from web.backend.app.services.session import PhaseResult, SessionRecord
from web.backend.app.sites import SitePolicy
from web.backend.app.store.redis_store import RedisStore

logger = logging.getLogger("bench.pool")
OUT = PROJECT_ROOT / "reports/bench/pool.json"
WARMUP_ISSUES = 200
MAX_FILL_S = 240.0
MAX_ISSUE_S = 120.0
POOL_TTL_S = 3600


def problems_app() -> FastAPI:
    """The AI server's batch route on the real generator and a real classifier check (uvicorn factory).

    Reads ``BENCH_BANK_DIR`` (a bank written by the curation writer) and ``BENCH_INPUT_SIZE``.
    """
    from serving.routes.phase_b import answer_for_backend
    from tcurity.images.bank import ImageBank
    from tcurity.images.classifier import TileClassifier
    from tcurity.problems import ProblemConfig, ProblemGenerator
    from tests.images.tiny import tiny_classifier

    bank = ImageBank.load(Path(os.environ["BENCH_BANK_DIR"]))
    model, spec = tiny_classifier(bank, int(os.environ["BENCH_INPUT_SIZE"]))
    generator = ProblemGenerator(bank, TileClassifier(model, spec, device="cpu"), ProblemConfig())
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/phase-b/problems")
    async def problems(body: ProblemsRequest) -> ProblemsResponse:
        made = await asyncio.to_thread(generator.generate_batch, body.count)
        return ProblemsResponse(
            problems=[Problem(client=c.to_dict(), answer=answer_for_backend(a)) for c, a in made],
            model=ModelRef(name="bench-lite0-fitted", version="0"),
        )

    return app


def start_problems_server(port: int, token: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "bench.pool:problems_app", "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    full_env = {**os.environ, **env, "AI_SERVER_TOKEN": token, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=full_env, start_new_session=True)


async def fill(redis_url: str, ai_url: str, token: str, depth: int, batch: int) -> dict[str, Any]:
    """The real filler from an empty pool to ``depth``: its sustained rate, and what it stored."""
    store = RedisStore(redis_url, timeout_s=10.0)
    telemetry = Telemetry()
    ai = AiClient(ai_url, token, 120.0, telemetry)
    pool = ProblemPool(store, telemetry, POOL_TTL_S, 2)
    filler = PoolFiller(pool, ai, depth, batch, 120.0)
    try:
        await ai.problems(2)  # warm the route (imports, first classifier batch), not stored
        start = time.perf_counter()
        while await pool.depth() < depth and time.perf_counter() - start < MAX_FILL_S:
            await asyncio.sleep(await filler.step())
        elapsed = time.perf_counter() - start
        filled = await pool.depth()
        blobs = [b for b in [await store.pop_problem() for _ in range(filled)] if b is not None]
        sizes = sorted(len(b) for b in blobs)
        return {
            "filler_problems_per_s": filled / elapsed,
            "filler_problems": filled,
            "filler_duration_s": elapsed,
            "filler_batch": batch,
            "filler_failures": filler.failures,
            "pooled_problem_bytes_median": sizes[len(sizes) // 2] if sizes else None,
            "_blobs": blobs,
        }
    finally:
        await ai.close()
        await store.close()


def rekeyed(blob: bytes) -> bytes:
    """A copy of a pooled problem with fresh problem and tile ids (the answer follows its tiles)."""
    problem = orjson.loads(blob)
    names = {t["tile_id"]: secrets.token_urlsafe(12) for t in problem["view"]["tiles"]}
    problem["view"]["problem_id"] = secrets.token_urlsafe(16)
    for tile in problem["view"]["tiles"]:
        tile["tile_id"] = names[tile["tile_id"]]
    problem["answer"] = [names[t] for t in problem["answer"]]
    return PooledProblem.model_validate(problem).model_dump_json().encode()


async def prepare_issue(redis_url: str, blobs: list[bytes], sitekey: str, n: int) -> list[str]:
    """Pushes ``n`` re-keyed problems and writes ``n`` sessions in ``phase_b``; returns the session ids."""
    store = RedisStore(redis_url, timeout_s=10.0)
    try:
        problems = [rekeyed(blobs[i % len(blobs)]) for i in range(n)]
        for start in range(0, n, 500):
            await store.push_problems(problems[start : start + 500], POOL_TTL_S)
        now_ms = int(time.time() * 1000)
        ids = []
        for _ in range(n):
            record = SessionRecord(
                session_id=new_id(),
                sitekey=sitekey,
                hostname=HOST,
                action="bench",
                state="phase_b",
                created_ms=now_ms,
                expires_ms=now_ms + 1_800_000,
                attempts={"phase_a": 1, "phase_b": 0},
                results={"phase_a": PhaseResult(score=0.9, threshold=0.5, model="bench@0")},
            )
            await store.create_session(
                record.session_id, record.model_dump_json().encode(), now_ms / 1000 + 1800
            )
            ids.append(record.session_id)
        return ids
    finally:
        await store.close()


@dataclass
class IssueTally:
    """What a Phase B issue load saw: each latency (ms), the count of each status, the problems issued and the
    first few refusals' bodies."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    problem_ids: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    def record(self, latency_ms: float, status: int, body: bytes) -> None:
        """Counts one answer of ``POST .../phase-b``."""
        self.latencies.append(latency_ms)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if status == 200:
            self.problem_ids.append(orjson.loads(body)["problem"]["problem_id"])
        elif len(self.samples) < 5:
            self.samples.append(f"{status} {body[:200]!r}")

    def report(self, wall_s: float) -> dict[str, Any]:
        """The load's result as the benchmark writes it."""
        return {
            "latencies": self.latencies,
            "wall_s": wall_s,
            "statuses": self.statuses,
            "problem_ids": self.problem_ids,
            "error_samples": self.samples,
        }


async def issue_load(port: int, session_ids: list[str], concurrency: int) -> dict[str, Any]:
    """Issues Phase B once per session from ``concurrency`` keep-alive clients."""
    tally = IssueTally()
    sessions = iter(session_ids)

    async def client() -> None:
        conn = Conn(port)
        try:
            for sid in sessions:
                start = time.perf_counter()
                status, body = await conn.request("POST", f"/api/v1/challenge/sessions/{sid}/phase-b")
                tally.record((time.perf_counter() - start) * 1000.0, status, body)
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), MAX_ISSUE_S)
    return tally.report(time.perf_counter() - start)


async def open_load(port: int, session_ids: list[str], rate_per_s: float, connections: int) -> dict[str, Any]:
    """Issues Phase B at a fixed arrival rate (open loop), at most ``connections`` in flight.

    Each latency runs from the request's scheduled arrival, so time spent waiting for a free connection counts
    (no coordinated omission).
    """
    free: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(Conn(port))
    tally = IssueTally()
    in_flight_max = 0

    async def one(sid: str, due: float) -> None:
        nonlocal in_flight_max
        conn = await free.get()
        in_flight_max = max(in_flight_max, connections - free.qsize())
        try:
            status, body = await conn.request("POST", f"/api/v1/challenge/sessions/{sid}/phase-b")
        finally:
            free.put_nowait(conn)
        tally.record((time.perf_counter() - due) * 1000.0, status, body)

    start = time.perf_counter()
    tasks = []
    for i, sid in enumerate(session_ids):
        due = start + i / rate_per_s
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(sid, due)))
    await asyncio.wait_for(asyncio.gather(*tasks), MAX_ISSUE_S)
    wall = time.perf_counter() - start
    while not free.empty():
        free.get_nowait().close()
    return {**tally.report(wall), "in_flight_max": in_flight_max}


def environment(folder: Path, ai_url: str, token: str) -> dict[str, str]:
    return {
        "TCURITY_ENV": "production",
        "AI_SERVER_URL": ai_url,
        "AI_SERVER_TOKEN": token,
        "TOKEN_SIGNING_KEY": secrets.token_urlsafe(32),
        "SITE_SECRET_PEPPER": secrets.token_urlsafe(32),
        "SITES_FILE": str(folder / "sites.json"),
        "RATE_LIMIT_PER_IP": "1000000000",
        "RATE_LIMIT_PER_SITEKEY": "1000000000",
        "PHASE_B_ISSUES_PER_SITEKEY": "1000000000",
        "PROBLEM_POOL_FILLER": "false",
        "LOG_LEVEL": "WARNING",
    }


def default_input_size() -> int:
    """The input size of the profile ``train_effnet`` trains (``params.yaml``): the champion's check."""
    from tcurity.config import params

    cfg = params().train_effnet
    return cfg.profiles[cfg.profile].input_size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--issues", type=int, default=1500, help="per measured run (each ramp step, closed loop)"
    )
    parser.add_argument("--concurrency", type=int, default=200, help="clients (closed loop) / connections")
    parser.add_argument(
        "--ramp", default="100,150", help="open-loop arrival rates run before --rate (comma-separated, per s)"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="the open-loop arrival rate reported")
    parser.add_argument("--depth", type=int, default=160, help="problems the measured fill makes")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tiles-per-class", type=int, default=20)
    parser.add_argument(
        "--input-size",
        type=int,
        default=default_input_size(),
        help="the classifier input (default: the input size of train_effnet's configured profile)",
    )
    parser.add_argument("--backend-workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    return parser.parse_args()


def measure_fill(
    args: argparse.Namespace, folder: Path, token: str, redis_url: str
) -> tuple[dict[str, Any], list[bytes]]:
    """Starts the problems server, fills the pool with the real filler, stops the server."""
    from tests.images.tiny import write_tiny_bank

    bank = write_tiny_bank(folder / "bank", tiles_per_class=args.tiles_per_class)
    ai_port = free_port()
    bank_env = {"BENCH_BANK_DIR": str(bank), "BENCH_INPUT_SIZE": str(args.input_size)}
    server = start_problems_server(ai_port, token, bank_env)
    try:
        wait_healthy(f"http://127.0.0.1:{ai_port}", deadline_s=180.0)
        filled = asyncio.run(fill(redis_url, f"http://127.0.0.1:{ai_port}", token, args.depth, args.batch))
    finally:
        stop(server)
    blobs: list[bytes] = filled.pop("_blobs")
    return filled, blobs


def measure_issue(
    args: argparse.Namespace,
    folder: Path,
    token: str,
    redis: subprocess.Popen[bytes],
    redis_url: str,
    blobs: list[bytes],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float], int]:
    """Starts the backend on the filled store; runs the open-loop then the closed-loop issue load."""
    env = environment(folder, "http://127.0.0.1:9", token)  # the issue path never calls the AI server
    settings = Settings.model_validate({k.lower(): v for k, v in env.items()})
    site = sites_add(settings, "bench", [HOST], SitePolicy(phase_b="always"))
    session_ids = asyncio.run(
        prepare_issue(redis_url, blobs, site["sitekey"], WARMUP_ISSUES + (len(ramp(args)) + 2) * args.issues)
    )
    port = free_port()
    backend = start_backend(port, {**env, "REDIS_URL": redis_url}, args.backend_workers)
    try:
        wait_healthy_backend(port)
        asyncio.run(issue_load(port, session_ids[:WARMUP_ISSUES], 20))
        meter = CpuMeter({"backend": backend.pid, "redis": redis.pid})
        batches = iter(
            session_ids[i : i + args.issues] for i in range(WARMUP_ISSUES, len(session_ids), args.issues)
        )
        ramped, ramp_ids = [], []
        for rate in ramp(args):
            step = asyncio.run(open_load(port, next(batches), rate, args.concurrency))
            ramped.append(ramp_step(rate, step))
            ramp_ids += step["problem_ids"]
        meter.start()
        opened = asyncio.run(open_load(port, next(batches), args.rate, args.concurrency))
        cpu = meter.read()
        opened["ramp"] = [*ramped, ramp_step(args.rate, opened)]
        opened["ramp_problem_ids"] = ramp_ids
        closed = asyncio.run(issue_load(port, next(batches), args.concurrency))
        left = asyncio.run(_depth(redis_url))
    finally:
        stop(backend)
    return opened, closed, cpu, left


def ramp(args: argparse.Namespace) -> list[float]:
    """The open-loop rates run before the reported one."""
    return [float(r) for r in args.ramp.split(",") if r.strip()]


def ramp_step(rate: float, run: dict[str, Any]) -> dict[str, Any]:
    """One open-loop run's summary."""
    ok = run["statuses"].get("200", 0)
    return {
        "rate_per_s": rate,
        "issued_per_s": ok / run["wall_s"],
        "p50_ms": percentile(run["latencies"], 50),
        "p99_ms": percentile(run["latencies"], 99),
        "errors": len(run["latencies"]) - ok,
    }


def main() -> None:
    args = parse_args()
    setup_logging()
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="tcurity-bench-pool-"))
    token = secrets.token_urlsafe(32)
    redis, redis_url = start_redis(folder)
    try:
        filled, blobs = measure_fill(args, folder, token, redis_url)
        opened, closed, cpu, left = measure_issue(args, folder, token, redis, redis_url, blobs)
    finally:
        stop(redis)
        shutil.rmtree(folder, ignore_errors=True)
    result = report(args, filled, opened, closed, cpu, left, load_before)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    logger.info("pool benchmark: %s", json.dumps(result))


async def _depth(redis_url: str) -> int:
    store = RedisStore(redis_url)
    try:
        return await store.problem_depth()
    finally:
        await store.close()


def report(
    args: argparse.Namespace,
    filled: dict[str, Any],
    opened: dict[str, Any],
    closed: dict[str, Any],
    cpu: dict[str, float],
    left: int,
    load_before: float,
) -> dict[str, Any]:
    ok_open = opened["statuses"].get("200", 0)
    ok_closed = closed["statuses"].get("200", 0)
    ids = opened["ramp_problem_ids"] + opened["problem_ids"] + closed["problem_ids"]
    targets = params().bench.pool
    result: dict[str, Any] = {
        "issue_p50_ms": percentile(opened["latencies"], 50),
        "issue_p99_ms": percentile(opened["latencies"], 99),
        "issue_rate_per_s": args.rate,
        "issued_per_s": ok_open / opened["wall_s"],
        "issue_connections": args.concurrency,
        "issue_in_flight_max": opened["in_flight_max"],
        "issues": len(opened["latencies"]),
        "issue_statuses": opened["statuses"],
        "issue_cpu_ms_per_issue": {k: 1000.0 * v / max(1, ok_open) for k, v in cpu.items()},
        "issues_per_cpu_core_s": max(1, ok_open) / max(1e-9, sum(cpu.values())),
        "closed_loop_clients": args.concurrency,
        "closed_loop_issued_per_s": ok_closed / closed["wall_s"],
        "closed_loop_p50_ms": percentile(closed["latencies"], 50),
        "closed_loop_p99_ms": percentile(closed["latencies"], 99),
        "closed_loop_statuses": closed["statuses"],
        "open_loop_ramp": opened["ramp"],
        "issue_error_samples": opened["error_samples"] + closed["error_samples"],
        "issued_twice": len(ids) - len(set(ids)),
        "pool_left_after_issue": left,
        **filled,
        "filler_check": f"EfficientNet-Lite0 at {args.input_size} px on CPU, head fitted to the bench bank",
        "bank_tiles_per_class": args.tiles_per_class,
        "backend_workers": args.backend_workers,
        "store": "redis",
        "cpu_count": os.cpu_count(),
        "load_average_1m_before": load_before,
        "load_average_1m_at_end": os.getloadavg()[0],
        "notes": (
            "Loopback only, one machine: the load generator, the backend, Redis and (during the fill) the "
            "problems server share its cores, and other jobs may have run meanwhile (see the load averages). "
            "issue_*: open loop at issue_rate_per_s arrivals with up to issue_connections in flight, latency "
            "from each scheduled arrival; closed_loop_*: issue_connections clients each waiting for its answer "
            "(its p99 is the queue, its rate the ceiling). Sessions are written into the store already in "
            "phase_b; the issue request then takes the production path (rate limits, session load, origin "
            "check, pool pop, compare-and-set save)."
        ),
        "targets": targets.model_dump(),
    }
    result["targets_met"] = {
        "issue_p99_ms": (result["issue_p99_ms"] or 1e9) <= targets.issue_p99_ms,
        "issued_per_s": result["issued_per_s"] >= 0.97 * targets.issued_per_s
        and args.rate >= targets.issued_per_s,
        "zero_errors": ok_open == len(opened["latencies"]) and ok_closed == len(closed["latencies"]),
        "never_issued_twice": result["issued_twice"] == 0,
    }
    return result


if __name__ == "__main__":
    main()
