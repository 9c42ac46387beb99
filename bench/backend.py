"""Benchmark of the backend: full Phase A sessions with real human traces, then siteverify under load.

Starts a real AI server (the project's champions, as ``bench/serving.py`` does) and a real uvicorn backend on
loopback, then

1. drives ``--sessions`` full Phase A sessions from ``--concurrency`` concurrent clients: create a session,
   get a perforation, answer it with a held-out human stroke (``data/interim/humans/phase_a.parquet``, split
   ``test``) mapped onto that perforation, after waiting as long as the stroke lasted (as a person would, and as
   the server checks); the submit's latency is what is measured;
2. verifies ``--verifications`` pass tokens with siteverify from ``--verify-concurrency`` connections: the
   tokens the sessions earned, topped up with tokens minted by the backend's own signing code and key (each
   token is verified once, so every request is a full verification with its one-time consumption).

Clients speak plain HTTP/1.1 keep-alive over asyncio streams so that the load generator, which shares the two
cores with both servers, costs as little as possible. Loopback only; bounded in requests and time; stops by
itself. Writes ``reports/bench/backend.json``.

    python -m bench.backend [--sessions 1200] [--concurrency 200] [--verifications 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson

from bench.http1 import HOST, Conn
from bench.readiness import wait_ok
from bench.redis_server import start_redis
from bench.serving import free_port, start_server, wait_healthy
from tcurity.config import PROJECT_ROOT, params, resolve, setup_logging
from tcurity.data.adapter import bend_along, to_perforation
from tcurity.datasets import read_traces
from tcurity.sampling import Path2
from tcurity.traces import EVENT_NAMES, PerforationTask
from web.backend.app.cli import sites_add
from web.backend.app.core.config import CLIENT_LIMIT_VARIABLES, Settings
from web.backend.app.core.security import new_id, pass_token
from web.backend.app.sites import SitePolicy

logger = logging.getLogger("bench.backend")
OUT = PROJECT_ROOT / "reports/bench/backend.json"
MAX_PHASE_S = 150.0


WARMUP_SESSIONS = 100


def human_strokes(n: int) -> list[Path2]:
    """Held-out human strokes in pixels, straightened back onto their chord (ready for any perforation)."""
    path = resolve(params().prepare_humans.out_dir) / params().prepare_humans.files.phase_a
    strokes = []
    for record in (r for r in read_traces(path) if r.split == "test"):
        task = record.task
        assert isinstance(task, PerforationTask)
        w, h = task.area_px
        x, y = bend_along(
            task.model_copy(update={"bend": -task.bend}), record.arrays.x * w, record.arrays.y * h
        )
        strokes.append(Path2(record.arrays.t_ms.copy(), x, y))
        if len(strokes) == n:
            break
    return strokes


def answer_body(stroke: Path2, task_json: dict[str, Any]) -> bytes:
    """The answer to the issued task: the stroke mapped onto it, the task echoed exactly as it was served."""
    arrays = to_perforation(stroke, PerforationTask.model_validate(task_json))
    points = {
        "x": arrays.x.tolist(),
        "y": arrays.y.tolist(),
        "t_ms": arrays.t_ms.tolist(),
        "event": [EVENT_NAMES[int(e)] for e in arrays.event],
    }
    viewport = {"width_px": 1280, "height_px": 800}
    return orjson.dumps({"trace": {"points": points, "viewport": viewport, "task": task_json}})


@dataclass
class SessionStats:
    submit_ms: list[float] = field(default_factory=list)
    create_ms: list[float] = field(default_factory=list)
    issue_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


async def timed(
    stats: list[float], conn: Conn, method: str, path: str, body: bytes = b""
) -> tuple[int, bytes]:
    start = time.perf_counter()
    result = await conn.request(method, path, body)
    stats.append((time.perf_counter() - start) * 1000.0)
    return result


async def one_session(conn: Conn, sitekey: str, stroke: Path2, stats: SessionStats) -> None:
    """create → phase-a → (wait the stroke's duration) → answer."""
    status, body = await timed(
        stats.create_ms, conn, "POST", "/api/v1/challenge/sessions", orjson.dumps({"sitekey": sitekey})
    )
    if status != 201:
        stats.error(f"create {status} {body!r}")
        return
    base = f"/api/v1/challenge/sessions/{orjson.loads(body)['session_id']}"
    status, body = await timed(stats.issue_ms, conn, "POST", f"{base}/phase-a")
    if status != 200:
        stats.error(f"issue {status} {body!r}")
        return
    answer = answer_body(stroke, orjson.loads(body)["task"])
    await asyncio.sleep(float(stroke.t_ms[-1] - stroke.t_ms[0]) / 1000.0 + 0.02)
    status, body = await timed(stats.submit_ms, conn, "POST", f"{base}/phase-a/answer", answer)
    if status != 200:
        stats.error(f"answer {status} {body!r}")
        return
    result = orjson.loads(body)
    stats.outcomes[result["outcome"]] = stats.outcomes.get(result["outcome"], 0) + 1
    if result["token"]:
        stats.tokens.append(result["token"])


async def sessions_load(
    port: int, sitekey: str, strokes: list[Path2], total: int, concurrency: int
) -> tuple[SessionStats, float]:
    stats = SessionStats()
    counter = iter(range(total))

    async def client() -> None:
        conn = Conn(port)
        try:
            for i in counter:
                try:
                    await one_session(conn, sitekey, strokes[i], stats)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    stats.error(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    conn = Conn(port)
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), MAX_PHASE_S)
    return stats, time.perf_counter() - start


def minted_tokens(n: int, key: str) -> list[str]:
    """Opaque pass tokens tagged with the backend's key, to top up the earned ones.

    The backend keeps no claims for them, so each costs siteverify the tag check and one store lookup and is
    refused (``timeout-or-duplicate``): the same work as a genuine token short of the consume marker.
    """
    return [pass_token(new_id(), key) for _ in range(n)]


async def verify_load(port: int, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    counter = iter(range(len(bodies)))
    media = "application/x-www-form-urlencoded"

    async def client() -> None:
        nonlocal errors
        conn = Conn(port)
        try:
            for i in counter:
                start = time.perf_counter()
                status, body = await conn.request("POST", "/api/v1/siteverify", bodies[i], media)
                latencies.append((time.perf_counter() - start) * 1000.0)
                if status != 200 or b'"success":true' not in body:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(body[:200].decode(errors="replace"))
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), MAX_PHASE_S)
    wall = time.perf_counter() - start
    return {
        "siteverify_rps": len(latencies) / wall,
        "siteverify_p50_ms": float(np.percentile(latencies, 50)),
        "siteverify_p99_ms": float(np.percentile(latencies, 99)),
        "siteverify_requests": len(latencies),
        "siteverify_errors": errors,
        "siteverify_error_samples": samples,
        "siteverify_duration_s": wall,
    }


def start_backend(port: int, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "web.backend"]
    env = {**os.environ, **env, "BACKEND_PORT": str(port), "BACKEND_WORKERS": str(workers)}
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--verifications", type=int, default=20_000)
    parser.add_argument("--verify-concurrency", type=int, default=32)
    parser.add_argument(
        "--backend-workers", type=int, default=1, help=">1 runs a redis-server for the shared store"
    )
    parser.add_argument("--ai-workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    setup_logging()
    # One stroke per session: the backend refuses a movement shape that answered another session (replay).
    strokes = human_strokes(WARMUP_SESSIONS + args.sessions)
    if len(strokes) < WARMUP_SESSIONS + args.sessions:
        raise SystemExit(
            f"only {len(strokes)} held-out strokes: run at most {len(strokes) - WARMUP_SESSIONS} sessions"
        )
    folder = Path(tempfile.mkdtemp(prefix="tcurity-bench-"))
    ai_token, signing_key, pepper = (secrets.token_urlsafe(32) for _ in range(3))
    env = {
        "TCURITY_ENV": "production",
        "AI_SERVER_TOKEN": ai_token,
        "TOKEN_SIGNING_KEY": signing_key,
        "SITE_SECRET_PEPPER": pepper,
        "SITES_FILE": str(folder / "sites.json"),
        # One load generator on one address: every per-client limit lifted, like the site's cap.
        **{name: "1000000000" for name in CLIENT_LIMIT_VARIABLES},
        "RATE_LIMIT_PER_SITEKEY": "1000000000",
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }
    settings = Settings.model_validate({k.lower(): v for k, v in env.items() if k != "OMP_NUM_THREADS"})
    site = sites_add(settings, "bench", [HOST], SitePolicy(phase_b="never"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if args.backend_workers > 1:
            redis, env["REDIS_URL"] = start_redis(folder)
            processes.append(redis)
        ai_port, backend_port = free_port(), free_port()
        processes.append(start_server(ai_port, ai_token, args.ai_workers))
        wait_healthy(f"http://127.0.0.1:{ai_port}")
        env["AI_SERVER_URL"] = f"http://127.0.0.1:{ai_port}"
        processes.append(start_backend(backend_port, env, args.backend_workers))
        wait_healthy_backend(backend_port)
        result = run_load(args, backend_port, site, signing_key, strokes)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    logger.info("backend benchmark: %s", json.dumps(result))


def wait_healthy_backend(port: int, deadline_s: float = 60.0) -> None:
    wait_ok(f"http://127.0.0.1:{port}/api/health", "the backend", deadline_s)


def run_load(
    args: argparse.Namespace, port: int, site: dict[str, str], signing_key: str, strokes: list[Path2]
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    wall_start = time.perf_counter()
    warm_up, measured = strokes[:WARMUP_SESSIONS], strokes[WARMUP_SESSIONS:]
    asyncio.run(sessions_load(port, site["sitekey"], warm_up, WARMUP_SESSIONS, 20))  # tokens unused
    stats, sessions_s = asyncio.run(
        sessions_load(port, site["sitekey"], measured, args.sessions, args.concurrency)
    )
    tokens = stats.tokens + minted_tokens(max(0, args.verifications - len(stats.tokens)), signing_key)
    bodies = [
        urlencode({"secret": site["secret"], "response": t}).encode() for t in tokens[: args.verifications]
    ]
    verify = asyncio.run(verify_load(port, bodies, args.verify_concurrency))
    passed = stats.outcomes.get("passed", 0)
    targets = params().bench.backend
    result: dict[str, Any] = {
        "siteverify_rps": verify["siteverify_rps"],
        "siteverify_p99_ms": verify["siteverify_p99_ms"],
        "submit_p99_ms": percentile(stats.submit_ms, 99),
        "submit_concurrency": args.concurrency,
        "errors": stats.errors + verify["siteverify_errors"],
        "duration_s": time.perf_counter() - wall_start,
        "submit_p50_ms": percentile(stats.submit_ms, 50),
        "create_p99_ms": percentile(stats.create_ms, 99),
        "issue_p99_ms": percentile(stats.issue_ms, 99),
        "sessions": len(stats.submit_ms),
        "sessions_duration_s": sessions_s,
        "submits_per_s": len(stats.submit_ms) / sessions_s,
        "outcomes": stats.outcomes,
        "human_pass_rate": passed / max(1, len(stats.submit_ms)),
        "session_errors": stats.errors,
        "session_error_samples": stats.error_samples,
        "earned_tokens_verified": min(len(stats.tokens), args.verifications),
        **{k: v for k, v in verify.items() if k not in ("siteverify_rps", "siteverify_p99_ms")},
        "verify_concurrency": args.verify_concurrency,
        "backend_workers": args.backend_workers,
        "store": "redis" if args.backend_workers > 1 else "memory",
        "ai_workers": args.ai_workers,
        "cpu_count": os.cpu_count(),
        "load_average_1m_before": load_before,
        "load_average_1m_at_end": os.getloadavg()[0],
        "targets": targets.model_dump(),
    }
    result["targets_met"] = {
        "siteverify_rps": result["siteverify_rps"] >= targets.siteverify_rps,
        "siteverify_p99_ms": result["siteverify_p99_ms"] <= targets.siteverify_p99_ms,
        "submit_p99_ms": (result["submit_p99_ms"] or 1e9) <= targets.submit_p99_ms,
        "zero_errors": result["errors"] == 0,
    }
    return result


if __name__ == "__main__":
    main()
