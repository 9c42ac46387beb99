"""Benchmark of the AI server: in-process scoring, HTTP on loopback under concurrency, problem creation.

Runs against the project's registry (the champions ``dvc repro`` promoted) and writes
``reports/bench/serving.json``. Loopback only, bounded in requests and time; stops by itself.

The HTTP cost is measured side by side with the HTTP stack's ceiling (:mod:`bench.trivial`: the same uvicorn
set-up and body, a constant answer), as server CPU milliseconds per request read from ``/proc``
(:mod:`bench.procstat`), which the shared machine disturbs far less than wall-clock rates. The figure of merit
is the score endpoint's CPU per request minus in-process scoring, as a multiple of the trivial endpoint's.

    python -m bench.serving [--requests 6000] [--concurrency 64] [--workers 2] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.procstat import CpuMeter
from bench.readiness import wait_ok
from bench.trivial import TRIVIAL_PATH
from tcurity import registry
from tcurity.bundles import load_bundle
from tcurity.config import PROJECT_ROOT, params, resolve, setup_logging
from tcurity.datasets import read_traces
from tcurity.features.phase_a import FEATURE_NAMES, phase_a_features
from tcurity.scoring import ModelBundle
from tcurity.traces import PerforationTask, Trace, make_trace, with_browser_signals

logger = logging.getLogger("bench.serving")
OUT = PROJECT_ROOT / "reports/bench/serving.json"
MAX_WALL_S = 120.0
SCORE_PATH = "/v1/phase-a/score"


def test_traces(n: int) -> list[Trace]:
    """Held-out human Phase A traces (real movement, realistic sizes), with the signals the SDK sends."""
    records = [
        r
        for r in read_traces(resolve(params().prepare_humans.out_dir) / params().prepare_humans.files.phase_a)
        if r.split == "test"
    ]
    return [with_browser_signals(make_trace(r.arrays, r.task)) for r in records[:n]]


def champion_bundle() -> tuple[ModelBundle, str]:
    """Phase A's champion as serving loads it (promoted, digest-checked, never unpickled) and its version."""
    registry.configure()
    name = params().train_phase_a.model_name
    version = registry.version_by_alias(name, registry.CHAMPION)
    if version is None:
        raise SystemExit(f"no champion for {name}: run `make train` first")
    return load_bundle(name, str(version.version), promoted=True), str(version.version)


def in_process(traces: list[Trace], bundle: ModelBundle, repeats: int = 3) -> dict[str, float]:
    """Validation is the server's job either way; this times feature extraction plus scoring of one trace."""
    idx = [FEATURE_NAMES.index(n) for n in bundle.feature_names]
    times: list[float] = []
    for _ in range(repeats):
        for trace in traces:
            start = time.perf_counter()
            assert isinstance(trace.task, PerforationTask)
            features = phase_a_features(trace.task, trace.arrays(), bundle.grid_ms)[idx]
            bundle.verdict(features)
            times.append((time.perf_counter() - start) * 1000.0)
    return {
        "score_p50_ms": float(np.percentile(times, 50)),
        "score_p99_ms": float(np.percentile(times, 99)),
        "score_mean_ms": float(np.mean(times)),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    port: int, token: str, workers: int, app: str = "serving.app:create_app"
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AI_SERVER_TOKEN": token,
        "TCURITY_ENV": "production",
        "MODEL_POLL_INTERVAL_S": "0",
        "OMP_NUM_THREADS": "1",
        "TCURITY_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True)


def wait_healthy(base: str, deadline_s: float = 90.0) -> None:
    wait_ok(f"{base}/health", "the AI server", deadline_s)


async def load(
    base: str, token: str, bodies: list[bytes], total: int, concurrency: int, path: str = SCORE_PATH
) -> dict[str, Any]:
    """``total`` POSTs of ``bodies`` to ``path`` from ``concurrency`` clients (aiohttp: cheap on the client)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                start = time.perf_counter()
                async with session.post(path, data=bodies[i % len(bodies)]) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append((time.perf_counter() - start) * 1000.0)

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), MAX_WALL_S)
        wall = time.perf_counter() - start
    return {
        "http_p50_ms": float(np.percentile(latencies, 50)),
        "http_p99_ms": float(np.percentile(latencies, 99)),
        "http_throughput_rps": len(latencies) / wall,
        "http_requests": len(latencies),
        "http_errors": errors,
    }


def problems_per_s(n: int = 40) -> dict[str, Any]:
    """Phase B problems made per second in process with the champion classifier's check (CPU here)."""
    try:
        from serving.models import ModelStore
        from serving.settings import Settings

        store = ModelStore(Settings(ai_server_token=secrets.token_urlsafe(24), model_poll_interval_s=0))
        store.refresh()
        generator = store.current.generator
        if generator is None:
            return {"problems_per_s": None, "problems_note": f"no generator: {store.current.errors}"}
        generator.generate_batch(4)  # warm caches
        start = time.perf_counter()
        for _ in range(n // 8):
            generator.generate_batch(8)
        return {"problems_per_s": (n // 8) * 8 / (time.perf_counter() - start), "device": store.device()}
    except Exception as exc:  # the Phase A numbers stand on their own
        return {"problems_per_s": None, "problems_note": f"{type(exc).__name__}: {exc}"}


def measure_http(
    app: str, path: str, token: str, bodies: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """One server of ``app`` under the load: latency, throughput and its CPU milliseconds per request."""
    port = free_port()
    server = start_server(port, token, args.workers, app)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        asyncio.run(load(base, token, bodies, 300, 8, path))  # warm-up
        meter = CpuMeter({"server": server.pid})
        meter.start()
        result = asyncio.run(load(base, token, bodies, args.requests, args.concurrency, path))
        result["server_cpu_ms_per_request"] = meter.read()["server"] * 1000.0 / result["http_requests"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    return result


def http_cost(score: dict[str, Any], trivial: dict[str, Any], score_mean_ms: float) -> dict[str, Any]:
    """The score endpoint's CPU per request beyond in-process scoring, against the trivial endpoint's."""
    outside = score["server_cpu_ms_per_request"] - score_mean_ms
    ratio = outside / trivial["server_cpu_ms_per_request"]
    target = params().bench.serving_http_cost_ratio  # at most this multiple of the trivial endpoint's
    return {
        "http_cost_outside_scoring_ms": outside,
        "trivial_cpu_ms_per_request": trivial["server_cpu_ms_per_request"],
        "http_cost_ratio_to_trivial": ratio,
        "target_ratio": target,
        "target_met": ratio <= target,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    setup_logging()
    traces = test_traces(300)
    bundle, version = champion_bundle()
    result: dict[str, Any] = {"model": {"name": params().train_phase_a.model_name, "version": version}}
    result.update(in_process(traces, bundle))
    logger.info("in process: %s", result)
    token = secrets.token_urlsafe(24)
    bodies = [json.dumps({"trace": t.model_dump(mode="json")}).encode() for t in traces]
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    score = measure_http("serving.app:create_app", SCORE_PATH, token, bodies, args)
    trivial = measure_http("bench.trivial:create_app", TRIVIAL_PATH, token, bodies, args)
    result.update(score)
    result["trivial"] = trivial
    result.update(http_cost(score, trivial, result["score_mean_ms"]))
    result.update(
        {
            "http_concurrency": args.concurrency,
            "server_workers": args.workers,
            "cpu_count": os.cpu_count(),
            "load_average_1m_before": load_before,
            "load_average_1m_at_end": os.getloadavg()[0],
        }
    )
    result.update(problems_per_s())
    result.setdefault("device", "cpu")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    logger.info("serving benchmark: %s", json.dumps(result))


if __name__ == "__main__":
    main()
