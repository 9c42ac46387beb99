"""Benchmark of the AI server: in-process scoring, HTTP on loopback under concurrency, problem creation.

Runs against the project's registry (the champions ``dvc repro`` promoted) and writes
``reports/bench/serving.json``. Loopback only, bounded in requests and time; stops by itself.

The HTTP cost is measured side by side with the HTTP stack's ceiling (:mod:`bench.trivial`: the same uvicorn
set-up and body, a constant answer), as server CPU milliseconds per request read from ``/proc``
(:mod:`bench.procstat`), which the shared machine disturbs far less than wall-clock rates. The figure of merit
is the score endpoint's CPU per request minus in-process scoring, as a multiple of the trivial endpoint's.

Each run is kept under its ``--label`` in the output file (``runs``), beside the runs already there, so a
change is judged by a ``before`` and an ``after`` measured the same way; each run's ratio comes from that run
alone (the score endpoint and the trivial one, back to back).

    python -m bench.serving [--label current] [--requests 6000] [--concurrency 64] [--workers 2] [--out PATH]
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
    """Validation is the server's job either way; this times feature extraction plus scoring of one trace.

    Besides wall-clock percentiles it gives the CPU milliseconds per trace (``score_cpu_mean_ms``, the process's
    CPU time over the whole loop): the figure the server's CPU per request is compared with, since a shared
    machine's other work inflates wall-clock times but not CPU time.
    """
    idx = [FEATURE_NAMES.index(n) for n in bundle.feature_names]
    times: list[float] = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        for trace in traces:
            start = time.perf_counter()
            assert isinstance(trace.task, PerforationTask)
            features = phase_a_features(trace.task, trace.arrays(), bundle.grid_ms)[idx]
            bundle.verdict(features)
            times.append((time.perf_counter() - start) * 1000.0)
    cpu_ms = (time.process_time() - cpu_start) * 1000.0
    return {
        "score_p50_ms": float(np.percentile(times, 50)),
        "score_p99_ms": float(np.percentile(times, 99)),
        "score_mean_ms": float(np.mean(times)),
        "score_cpu_mean_ms": cpu_ms / len(times),
    }


def in_process_decision(traces: list[Trace], bundle: ModelBundle, repeats: int = 3) -> dict[str, float]:
    """CPU milliseconds per trace of the whole decision the score endpoint computes once the body is
    validated: the signal rules, the geometry check, the features, the model and the integrity layer
    (:func:`serving.decisions.decide_phase_a`). What the server spends beyond it is the HTTP layer's (parsing,
    validation, routing, middleware, telemetry, encoding)."""
    from serving.decisions import decide_phase_a
    from serving.models import LoadedModel

    loaded = LoadedModel(name="bench", version="0", alias="champion", model=bundle)
    cpu_start = time.process_time()
    for _ in range(repeats):
        for trace in traces:
            assert isinstance(trace.task, PerforationTask)
            decide_phase_a(loaded, trace.task, trace)
    return {"decision_cpu_mean_ms": (time.process_time() - cpu_start) * 1000.0 / (repeats * len(traces))}


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


def http_cost(
    score: dict[str, Any], trivial: dict[str, Any], score_cpu_ms: float, decision_cpu_ms: float
) -> dict[str, Any]:
    """The score endpoint's CPU per request beyond in-process scoring (CPU-ms), against the trivial endpoint's.

    Two readings: beyond the features and the model (``http_cost_ratio_to_trivial``, the product's figure of
    merit: geometry, integrity, validation and the HTTP layer all count as overhead), and beyond the whole
    in-process decision (``http_layer_ratio_to_trivial``: the HTTP layer alone).
    """
    target = params().bench.serving_http_cost_ratio  # at most this multiple of the trivial endpoint's
    trivial_ms = trivial["server_cpu_ms_per_request"]
    outside = score["server_cpu_ms_per_request"] - score_cpu_ms
    layer = score["server_cpu_ms_per_request"] - decision_cpu_ms
    ratio = outside / trivial_ms
    return {
        "http_cost_outside_scoring_ms": outside,
        "trivial_cpu_ms_per_request": trivial_ms,
        "http_cost_ratio_to_trivial": ratio,
        "target_ratio": target,
        "target_met": ratio <= target,
        "http_layer_beyond_decision_ms": layer,
        "http_layer_ratio_to_trivial": layer / trivial_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--label", default="current", help="the run's name in the output (before, after, ...)"
    )
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    setup_logging()
    traces = test_traces(300)
    bundle, version = champion_bundle()
    run: dict[str, Any] = {"model": {"name": params().train_phase_a.model_name, "version": version}}
    run["commit"] = git_commit()
    run["in_process"] = in_process(traces, bundle) | in_process_decision(traces, bundle)
    logger.info("in process: %s", run["in_process"])
    token = secrets.token_urlsafe(24)
    bodies = [json.dumps({"trace": t.model_dump(mode="json")}).encode() for t in traces]
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    run["score"] = measure_http("serving.app:create_app", SCORE_PATH, token, bodies, args)
    run["trivial"] = measure_http("bench.trivial:create_app", TRIVIAL_PATH, token, bodies, args)
    cpu = run["in_process"]
    run["http_cost"] = http_cost(
        run["score"], run["trivial"], cpu["score_cpu_mean_ms"], cpu["decision_cpu_mean_ms"]
    )
    run["setup"] = {
        "http_requests": args.requests,
        "http_concurrency": args.concurrency,
        "server_workers": args.workers,
        "cpu_count": os.cpu_count(),
        "mean_body_bytes": float(np.mean([len(b) for b in bodies])),
        "load_average_1m_before": load_before,
        "load_average_1m_at_end": os.getloadavg()[0],
    }
    run["problems"] = problems_per_s()
    write_run(args.out, args.label, run)
    logger.info("serving benchmark (%s): %s", args.label, summary_line(run))


def git_commit() -> str | None:
    """The commit the measured code is at (a dirty tree is marked), so runs can be told apart."""
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            check=False,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return rev.stdout.strip() or None


def summary_line(run: dict[str, Any]) -> str:
    """In-process scoring, both endpoints' CPU per request and rate, and the ratio, on one line."""
    cost = run["http_cost"]
    return (
        f"in-process scoring {run['in_process']['score_cpu_mean_ms']:.3f} CPU-ms; "
        f"score endpoint {run['score']['server_cpu_ms_per_request']:.3f} CPU-ms/request "
        f"({run['score']['http_throughput_rps']:.0f} rps); "
        f"trivial {cost['trivial_cpu_ms_per_request']:.3f} CPU-ms/request "
        f"({run['trivial']['http_throughput_rps']:.0f} rps); "
        f"outside scoring {cost['http_cost_outside_scoring_ms']:.3f} ms = "
        f"{cost['http_cost_ratio_to_trivial']:.2f}x trivial (target <= {cost['target_ratio']:.1f}x); "
        f"whole decision {run['in_process']['decision_cpu_mean_ms']:.3f} CPU-ms, HTTP layer beyond it "
        f"{cost['http_layer_beyond_decision_ms']:.3f} ms = {cost['http_layer_ratio_to_trivial']:.2f}x trivial"
    )


def write_run(out: Path, label: str, run: dict[str, Any]) -> None:
    """Keeps ``run`` under ``runs[label]`` in ``out``, beside the other runs there (a file of the older flat
    layout is replaced)."""
    document: dict[str, Any] = {}
    if out.exists():
        document = json.loads(out.read_text())
    kept = document.get("runs")
    runs: dict[str, Any] = kept if isinstance(kept, dict) else {}
    runs[label] = run
    document = {
        "description": (
            "AI server Phase A score endpoint against a trivial endpoint of the same uvicorn/FastAPI set-up and "
            "body, per run: in-process scoring (features + model), server CPU-ms per request from /proc, and "
            "the score endpoint's CPU beyond in-process scoring as a multiple of the trivial endpoint's"
        ),
        "target_ratio": params().bench.serving_http_cost_ratio,
        "summary": {name: summary_line(r) for name, r in runs.items()},
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
