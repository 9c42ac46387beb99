"""Benchmark of the input-integrity layer: what :func:`tcurity.integrity.assess` adds to scoring, per trace
(given the trace's arrays, which scoring builds for the behaviour model anyway).

Times the layer in-process on the traces recorded on both input paths (``tests/fixtures/integrity/``, a tear of
some 60 events) and on a long drag of ``--events`` mouse events with every evidence column and coalesced
sub-events (a 20 s drag at 125 Hz), and writes p50/p99 per trace to ``reports/bench/integrity.json``. The target
is at most 1 ms p99 of CPU time (docs/integrity.md). Beside it, what reading the evidence costs: the schema's
validation of each trace's JSON with and without it; wall-clock p99 on the shared machine is reported beside it,
and mostly measures the other processes.

    python -m bench.integrity [--repeats 2000] [--events 2500] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from tcurity.config import PROJECT_ROOT, params, setup_logging
from tcurity.integrity import assess
from tcurity.traces import MAX_SUBSAMPLES, Trace

logger = logging.getLogger("bench.integrity")
OUT = PROJECT_ROOT / "reports/bench/integrity.json"
FIXTURES = PROJECT_ROOT / "tests/fixtures/integrity"


def long_drag(events: int) -> Trace:
    """A mouse drag of ``events`` events across a 600 × 300 px area in whole-pixel steps, two coalesced samples
    each, with every per-event evidence column (the largest realistic Phase A/B trace the layer reads)."""
    n = events
    u = np.linspace(0.0, 1.0, n)
    x = np.round(0.1 * 600 + 0.8 * 600 * u) / 600
    y = np.round(150 + 20 * np.sin(6 * u)) / 300
    t = np.round(np.arange(n) * 16.7, 2)
    moves = list(range(1, n - 1))[: MAX_SUBSAMPLES // 2]  # two sub-events each, up to the schema's cap
    points: dict[str, Any] = {
        "x": np.round(x, 5).tolist(),
        "y": np.round(y, 5).tolist(),
        "t_ms": t.tolist(),
        "event": ["down"] + ["move"] * (n - 2) + ["up"],
        "pointer_type": ["mouse"] * n,
        "trusted": [True] * n,
        "coalesced": [0] + [2] * (n - 2) + [0],
        "screen_dx": [40.0] * n,
        "screen_dy": [86.0] * n,
        "movement_x": [1.0] * n,
        "movement_y": [0.0] * n,
        "frame_ms": [15.0] * n,
        "sub": {
            "index": [i for i in moves for _ in range(2)],
            "x": [x[i] for i in moves for _ in range(2)],
            "y": [y[i] for i in moves for _ in range(2)],
            "t_ms": [t[i] - d for i in moves for d in (8.0, 0.0)],
        },
    }
    points["sub"]["x"] = np.round(points["sub"]["x"], 5).tolist()
    points["sub"]["y"] = np.round(points["sub"]["y"], 5).tolist()
    task = {
        "kind": "perforation",
        "area_px": [600, 300],
        "start": {"x": 0.1, "y": 0.5},
        "end": {"x": 0.9, "y": 0.5},
    }
    viewport = {"width_px": 1280, "height_px": 800}
    return Trace.model_validate({"points": points, "viewport": viewport, "task": task})


def time_assess(trace: Trace, repeats: int) -> dict[str, float]:
    """p50/p99 of ``assess`` on one trace, in ms (after a warm-up): CPU time of this thread, which other
    processes on a shared machine do not inflate, and wall-clock time beside it."""
    p = params().integrity
    arrays = trace.arrays()  # the decisions build them for the behaviour model already and hand them over
    for _ in range(20):
        assess(trace, p, arrays)
    cpu = np.empty(repeats)
    wall = np.empty(repeats)
    for i in range(repeats):
        start_cpu, start_wall = time.thread_time_ns(), time.perf_counter_ns()
        assess(trace, p, arrays)
        cpu[i] = (time.thread_time_ns() - start_cpu) / 1e6
        wall[i] = (time.perf_counter_ns() - start_wall) / 1e6
    return {
        "events": len(trace.points.x),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 4),
        "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 4),
        "wall_p50_ms": round(float(np.percentile(wall, 50)), 4),
        "wall_p99_ms": round(float(np.percentile(wall, 99)), 4),
    }


def time_parse(trace: Trace, repeats: int) -> dict[str, float]:
    """Median CPU ms to validate the trace's JSON with and without its integrity evidence (what every service
    pays per request to read it)."""
    full = trace.model_dump(mode="json", exclude_none=True)
    bare = json.loads(json.dumps(full))
    for name in ("screen_dx", "screen_dy", "movement_x", "movement_y", "frame_ms", "sub"):
        bare["points"].pop(name, None)
    bare.pop("env", None)
    result: dict[str, float] = {}
    for label, body in (("without", json.dumps(bare)), ("with", json.dumps(full))):
        cpu = np.empty(repeats)
        for i in range(repeats):
            start = time.thread_time_ns()
            Trace.model_validate_json(body)
            cpu[i] = (time.thread_time_ns() - start) / 1e6
        result[f"parse_{label}_evidence_cpu_p50_ms"] = round(float(np.percentile(cpu, 50)), 3)
        result[f"body_{label}_evidence_bytes"] = len(body)
    return result


def run(repeats: int, events: int, out: Path) -> dict[str, Any]:
    """Times every trace and writes the report."""
    traces = {p.stem: Trace.model_validate_json(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}
    traces["long_drag"] = long_drag(events)
    results = {name: time_assess(trace, repeats) for name, trace in traces.items()}
    worst = max(r["cpu_p99_ms"] for r in results.values())
    report = {
        "integrity_version": params().integrity.version,
        "repeats": repeats,
        "traces": results,
        "parse": {name: time_parse(trace, max(20, repeats // 20)) for name, trace in traces.items()},
        "worst_cpu_p99_ms": worst,
        "target_p99_ms": params().bench.integrity_p99_ms,
        "target_met": worst <= params().bench.integrity_p99_ms,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    logger.info(
        "integrity: worst p99 %.3f ms per trace (target %.1f ms) -> %s",
        worst,
        params().bench.integrity_p99_ms,
        out,
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2500)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    setup_logging()
    run(args.repeats, args.events, args.out)


if __name__ == "__main__":
    main()
