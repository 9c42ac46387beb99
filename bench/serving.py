"""Benchmark of the AI server: in-process scoring, HTTP on loopback under concurrency, problem creation.

Runs against the project's registry (the champions ``dvc repro`` promoted) and writes
``reports/bench/serving.json``. Loopback only, bounded in requests and time; stops by itself.

The HTTP cost is measured side by side with the HTTP stack's ceiling (:mod:`bench.trivial`: the same uvicorn
set-up and body, a constant answer), as server CPU milliseconds per request read from ``/proc``
(:mod:`bench.procstat`), which the shared machine disturbs far less than wall-clock rates. The figure of merit
is the score endpoint's CPU per request minus in-process scoring, as a multiple of the trivial endpoint's.

"In-process scoring" is everything the score endpoint computes that is not HTTP: the body validated from its
bytes into arrays, the signal rules, the geometry check, the features, every model layer (the approach's too)
and the decision. It is read two ways: in this process over the same bodies (``in_process``), and inside the
server under the load itself (``ai_scoring_cpu_seconds_total`` / ``ai_scored_total`` from its ``/metrics``,
the event loop's thread CPU around the same work), which shares the server's caches and the machine's
contention and so leaves the HTTP layer alone in the difference.

The model is the Phase A champion of the registry in use (``--registry``: a copy of another checkout's, say;
the project's by default), named with its version and layers in the output.

Each run is kept under its ``--label`` in the output file (``runs``), beside the runs already there. With
``--baseline-root`` (a checkout of the code before a change, e.g. ``git archive``'s) the run serves the score
endpoint from both trees, alternating with the trivial endpoint ``--repeats`` times, so ``before`` and
``after`` are measured side by side in one run. A baseline older than the server's scoring counters can be given
them (the counters alone, the request path untouched) so that both trees have the server's own reading;
``--baseline-note`` records how the tree was made.

    python -m bench.serving [--label current] [--requests 6000] [--concurrency 64] [--workers 2] [--out PATH]
        [--registry URI] [--baseline-root PATH] [--repeats 1]
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
import urllib.request
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


def champion_bundle() -> tuple[ModelBundle, dict[str, Any]]:
    """Phase A's champion as serving loads it (promoted, digest-checked, never unpickled) and what it is: name,
    version, the registry it came from and its layers (the servers of the run load the same one)."""
    uri = registry.configure()
    name = params().train_phase_a.model_name
    version = registry.version_by_alias(name, registry.CHAMPION)
    if version is None:
        raise SystemExit(f"no champion for {name} in {uri}: run `make train` first")
    bundle = load_bundle(name, str(version.version), promoted=True)
    model = {
        "name": name,
        "version": str(version.version),
        "alias": registry.CHAMPION,
        "registry": uri,
        "kind": bundle.kind,
        "supervised_layer": bundle.supervised is not None,
        "approach_layers": bundle.approach is not None,
    }
    return bundle, model


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


def in_process_request(bodies: list[bytes], bundle: ModelBundle, repeats: int = 3) -> dict[str, float]:
    """CPU milliseconds per request of everything the score endpoint computes that is not HTTP, over the bodies
    the load sends: the body validated from its bytes (:func:`serving.score_requests.parse_score_request`), the
    whole decision (:func:`serving.decisions.decide_phase_a`: signals, geometry, features, every model layer,
    the approach's included, integrity), and apart, the answer's encoding (``response_cpu_mean_ms``, part of
    the HTTP layer's cost)."""
    from serving.decisions import decide_phase_a
    from serving.models import LoadedModel
    from serving.score_requests import parse_score_request, score_response

    loaded = LoadedModel(name="bench", version="0", alias="champion", model=bundle)
    decisions = []
    times: list[float] = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        for body in bodies:
            start = time.perf_counter()
            request = parse_score_request(body)
            assert isinstance(request.trace.task, PerforationTask)
            decisions.append(decide_phase_a(loaded, request.trace.task, request.trace))
            times.append((time.perf_counter() - start) * 1000.0)
    request_cpu_ms = (time.process_time() - cpu_start) * 1000.0 / len(decisions)
    cpu_start = time.process_time()
    for decision in decisions:
        score_response(decision)
    return {
        "request_path_cpu_mean_ms": request_cpu_ms,
        "request_path_p50_ms": float(np.percentile(times, 50)),
        "request_path_p99_ms": float(np.percentile(times, 99)),
        "response_cpu_mean_ms": (time.process_time() - cpu_start) * 1000.0 / len(decisions),
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
    port: int, token: str, workers: int, app: str = "serving.app:create_app", root: Path = PROJECT_ROOT
) -> subprocess.Popen[bytes]:
    """``app`` under uvicorn on loopback, its code and working directory from the checkout at ``root``."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}",
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
    return subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True)


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


def server_scoring(base: str, token: str, workers: int) -> dict[str, Any]:
    """The server's own in-process scoring CPU per scored trace (``ai_scoring_cpu_seconds_total`` over
    ``ai_scored_total``, phase ``a``), summed over the workers its ``/metrics`` answered from (each fresh
    connection may reach another worker); ``None`` for a server that does not export them (older code)."""
    seen: dict[tuple[float, float], None] = {}
    for _ in range(4 * workers):
        request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback, our own server
            text = response.read().decode()
        values = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith(("ai_scoring_cpu_seconds_total{", "ai_scored_total{")) and 'phase="a"' in line
        }
        cpu = values.get('ai_scoring_cpu_seconds_total{phase="a"}')
        count = values.get('ai_scored_total{phase="a"}')
        if cpu is not None and count:
            seen[(cpu, count)] = None
    if not seen:
        return {"server_scoring_cpu_ms": None, "server_scoring_workers_read": 0}
    cpu_s = sum(cpu for cpu, _ in seen)
    count = sum(count for _, count in seen)
    return {"server_scoring_cpu_ms": cpu_s * 1000.0 / count, "server_scoring_workers_read": len(seen)}


def measure_http(
    app: str,
    path: str,
    token: str,
    bodies: list[bytes],
    args: argparse.Namespace,
    root: Path = PROJECT_ROOT,
) -> dict[str, Any]:
    """One server of ``app`` (code from ``root``) under the load: latency, throughput, its CPU milliseconds per
    request and, for the score endpoint, its own in-process scoring CPU per trace."""
    port = free_port()
    server = start_server(port, token, args.workers, app, root)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        asyncio.run(load(base, token, bodies, 300, 8, path))  # warm-up
        meter = CpuMeter({"server": server.pid})
        meter.start()
        result = asyncio.run(load(base, token, bodies, args.requests, args.concurrency, path))
        result["server_cpu_ms_per_request"] = meter.read()["server"] * 1000.0 / result["http_requests"]
        if path == SCORE_PATH:
            result |= server_scoring(base, token, args.workers)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    return result


def http_cost(score: dict[str, Any], trivial: dict[str, Any], request_path_cpu_ms: float) -> dict[str, Any]:
    """The score endpoint's CPU per request beyond in-process scoring (CPU-ms), against the trivial endpoint's.

    Two readings of in-process scoring (validation into arrays and the whole decision): measured in this
    process (``http_cost_ratio_to_trivial``) and measured by the server itself under the load
    (``server_http_cost_ratio_to_trivial``, when the server exports it). The second is the figure of merit: the
    first comes from a quieter process than the loaded server, so the server's slower numpy under contention
    counts as HTTP cost there.
    """
    target = params().bench.serving_http_cost_ratio  # at most this multiple of the trivial endpoint's
    trivial_ms = trivial["server_cpu_ms_per_request"]
    outside = score["server_cpu_ms_per_request"] - request_path_cpu_ms
    cost: dict[str, Any] = {
        "trivial_cpu_ms_per_request": trivial_ms,
        "target_ratio": target,
        "http_cost_outside_scoring_ms": outside,
        "http_cost_ratio_to_trivial": outside / trivial_ms,
    }
    in_server = score.get("server_scoring_cpu_ms")
    if in_server is not None:
        server_outside = score["server_cpu_ms_per_request"] - in_server
        cost |= {
            "server_http_cost_outside_scoring_ms": server_outside,
            "server_http_cost_ratio_to_trivial": server_outside / trivial_ms,
        }
    merit = cost.get("server_http_cost_ratio_to_trivial", cost["http_cost_ratio_to_trivial"])
    cost["figure_of_merit"] = (
        "server_http_cost_ratio_to_trivial" if in_server is not None else "http_cost_ratio_to_trivial"
    )
    cost["target_met"] = merit <= target
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--label", default="current", help="the run's name in the output (before, after, ...)"
    )
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--registry", help="MLflow tracking URI to take the champion from (default: the project's)"
    )
    parser.add_argument(
        "--baseline-root",
        type=Path,
        help="a checkout of the code before a change: its score endpoint is measured too",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternations of the endpoints (with a baseline)"
    )
    parser.add_argument(
        "--baseline-note", default="", help="how the baseline tree was made, kept in the output"
    )
    args = parser.parse_args()
    setup_logging()
    if args.registry:
        os.environ["MLFLOW_TRACKING_URI"] = args.registry  # the servers inherit it
    traces = test_traces(300)
    bundle, model = champion_bundle()
    bodies = [json.dumps({"trace": t.model_dump(mode="json")}).encode() for t in traces]
    run: dict[str, Any] = {"model": model, "commit": git_commit()}
    run["in_process"] = (
        in_process(traces, bundle) | in_process_request(bodies, bundle) | in_process_decision(traces, bundle)
    )
    logger.info("in process: %s", run["in_process"])
    token = secrets.token_urlsafe(24)
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    trees = (
        {"after": PROJECT_ROOT}
        if args.baseline_root is None
        else {
            "before": args.baseline_root.resolve(),
            "after": PROJECT_ROOT,
        }
    )
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in ("trivial", *trees)}
    for repeat in range(args.repeats):
        order = list(trees.items()) if repeat % 2 == 0 else list(reversed(trees.items()))
        measured["trivial"].append(
            measure_http("bench.trivial:create_app", TRIVIAL_PATH, token, bodies, args)
        )
        for name, root in order:
            measured[name].append(
                measure_http("serving.app:create_app", SCORE_PATH, token, bodies, args, root)
            )
    request_path_ms = run["in_process"]["request_path_cpu_mean_ms"]
    run["trivial"] = mean_of(measured["trivial"])
    for name, root in trees.items():
        score = mean_of(measured[name])
        run[name] = {
            "tree": str(root),
            "note": args.baseline_note if name == "before" else "",
            "score": score,
            "repeats": measured[name],
            "http_cost": http_cost(score, run["trivial"], request_path_ms),
        }
    run["trivial_repeats"] = measured["trivial"]
    run["setup"] = {
        "http_requests": args.requests,
        "http_concurrency": args.concurrency,
        "server_workers": args.workers,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "mean_body_bytes": float(np.mean([len(b) for b in bodies])),
        "load_average_1m_before": load_before,
        "load_average_1m_at_end": os.getloadavg()[0],
    }
    run["problems"] = problems_per_s()
    write_run(args.out, args.label, run)
    logger.info("serving benchmark (%s): %s", args.label, summary_line(run))


def mean_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each number over repeated measurements of one endpoint (``None`` stays ``None``)."""
    merged: dict[str, Any] = {}
    for key in results[0]:
        values = [r[key] for r in results]
        merged[key] = None if any(v is None for v in values) else float(np.mean(values))
    return merged


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
    """In-process scoring, the trivial endpoint's and each score endpoint's CPU per request and rate, and the
    ratios, on one line (runs of the older layout, without ``after``, get a short note)."""
    if "after" not in run:
        return "older layout: see its fields"
    parts = [
        f"Phase A {run['model']['name']} v{run['model']['version']}; in-process scoring (validation + decision) "
        f"{run['in_process']['request_path_cpu_mean_ms']:.3f} CPU-ms; trivial "
        f"{run['trivial']['server_cpu_ms_per_request']:.3f} CPU-ms/request "
        f"({run['trivial']['http_throughput_rps']:.0f} rps)"
    ]
    for name in ("before", "after"):
        if name not in run:
            continue
        score, cost = run[name]["score"], run[name]["http_cost"]
        line = (
            f"{name}: score endpoint {score['server_cpu_ms_per_request']:.3f} CPU-ms/request "
            f"({score['http_throughput_rps']:.0f} rps), outside scoring {cost['http_cost_outside_scoring_ms']:.3f} "
            f"ms = {cost['http_cost_ratio_to_trivial']:.2f}x trivial"
        )
        if "server_http_cost_ratio_to_trivial" in cost:
            line += (
                f"; server's own scoring {score['server_scoring_cpu_ms']:.3f} CPU-ms, outside it "
                f"{cost['server_http_cost_outside_scoring_ms']:.3f} ms = "
                f"{cost['server_http_cost_ratio_to_trivial']:.2f}x trivial"
            )
        parts.append(
            line + f" (target <= {cost['target_ratio']:.1f}x: {'met' if cost['target_met'] else 'not met'})"
        )
    return "; ".join(parts)


def write_run(out: Path, label: str, run: dict[str, Any]) -> None:
    """Keeps ``run`` under ``runs[label]`` in ``out``, beside the other runs there (a file of the older flat
    layout is replaced)."""
    document: dict[str, Any] = {}
    if out.exists():
        document = json.loads(out.read_text())
    kept = document.get("runs")
    kept_summary: dict[str, str] = document.get("summary") or {}
    runs: dict[str, Any] = kept if isinstance(kept, dict) else {}
    runs[label] = run
    document = {
        "description": (
            "AI server Phase A score endpoint against a trivial endpoint of the same uvicorn/FastAPI set-up and "
            "body, per run: in-process scoring (validation into arrays + the whole decision, all model layers), "
            "server CPU-ms per request from /proc, and the score endpoint's CPU beyond in-process scoring as a "
            "multiple of the trivial endpoint's; in-process scoring is read in the bench process and, where the "
            "server exports it, by the server itself under the load (the figure of merit). Runs with 'before' "
            "and 'after' served both trees side by side"
        ),
        "target_ratio": params().bench.serving_http_cost_ratio,
        "summary": {
            name: summary_line(r) if "after" in r else kept_summary.get(name, summary_line(r))
            for name, r in runs.items()
        },
        "latest": label,
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
