"""The capacity benchmark's own logic on tiny hand-checked inputs: the arrival schedule, the people's addresses,
the step summaries and the ramp's verdicts (no server runs, nothing is timed)."""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter
from typing import Any

import numpy as np
import pytest

from bench.capacity import (
    STEPS,
    StepLog,
    arrival_offsets,
    highest_passing_rate,
    launch,
    meets_target,
    per_challenge_ms,
    pooled,
    ratio_to_trivial,
    site_server_address,
    source_address,
    step_latencies,
    stopped_by,
    summarize_step,
)
from bench.http1 import header_fields, read_body


def test_fixed_arrivals_are_evenly_spaced_within_the_step() -> None:
    assert arrival_offsets(4.0, 1.0) == [0.0, 0.25, 0.5, 0.75]
    assert arrival_offsets(2.0, 2.5) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert arrival_offsets(0.0, 10.0) == []
    assert arrival_offsets(5.0, 0.0) == []


def test_poisson_arrivals_have_the_seeded_exponential_gaps() -> None:
    rng = np.random.default_rng(7)
    expected, now = [], float(rng.exponential(0.5))
    while now < 3.0:
        expected.append(now)
        now += float(rng.exponential(0.5))
    assert arrival_offsets(2.0, 3.0, poisson=True, seed=7) == expected
    assert arrival_offsets(2.0, 3.0, poisson=True, seed=7) == arrival_offsets(2.0, 3.0, poisson=True, seed=7)


def test_each_person_has_a_network_of_their_own() -> None:
    assert source_address(0) == "127.1.0.2"
    assert source_address(1) == "127.1.1.2"
    assert source_address(256) == "127.2.0.2"
    assert source_address(256 * 255) == "127.1.0.3"
    networks = {source_address(i).rsplit(".", 1)[0] for i in range(256 * 255)}
    assert len(networks) == 256 * 255
    assert not any(n.startswith("127.0.") for n in networks)  # nginx's 127.0.0.1 and the site's servers
    assert site_server_address(0) == "127.0.255.2"
    assert site_server_address(3) == "127.0.255.5"


def test_launch_starts_every_arrival_at_its_due_time_without_waiting_for_the_others() -> None:
    started: list[tuple[int, float]] = []
    release = asyncio.Event()

    async def spawn(k: int, due: float) -> None:
        started.append((k, due))
        await release.wait()  # nobody finishes until all have started: an open loop does not wait

    async def run() -> None:
        tasks = await launch([0.0, 0.001, 0.002], 100.0, spawn)
        await asyncio.sleep(0)
        assert started == [(0, 100.0), (1, 100.001), (2, 100.002)]
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(run())


def a_log() -> StepLog:
    log = StepLog()
    for step in STEPS:
        log.latencies_ms[step] = [10.0, 20.0, 30.0]
    log.outcomes = Counter({"passed": 4, "refused_phase_a": 1})
    log.arrived = 5
    log.backend_requests = 40
    log.ai_requests = 10
    log.launch_lag_ms = [0.0, 1.0]
    return log


def test_step_latencies_are_numpy_percentiles_and_the_target_needs_every_step() -> None:
    latencies = step_latencies(a_log())
    assert latencies["create"] == {"p50_ms": 20.0, "p99_ms": pytest.approx(29.8), "n": 3}
    assert meets_target(latencies, errors=0)
    assert not meets_target(latencies, errors=1)
    slow: dict[str, dict[str, float | int | None]] = {
        **latencies,
        "siteverify": {"p50_ms": 1.0, "p99_ms": 250.5, "n": 2},
    }
    assert not meets_target(slow, errors=0)
    never: dict[str, dict[str, float | int | None]] = {
        **latencies,
        "phase_b_answer": {"p50_ms": None, "p99_ms": None, "n": 0},
    }
    assert not meets_target(never, errors=0)


def test_cpu_is_divided_by_completed_challenges() -> None:
    assert per_challenge_ms({"nginx": 0.25, "backend": 1.5}, 20) == {
        "nginx": 12.5,
        "backend": 75.0,
        "total": 87.5,
    }
    assert per_challenge_ms({"nginx": 0.25}, 0) == {"nginx": None, "total": None}
    assert ratio_to_trivial(0.5, 100, 0.25) == {
        "cpu_ms_per_request": 5.0,
        "requests_per_core_s": 200.0,
        "ratio_to_trivial": 0.05,
    }
    assert ratio_to_trivial(0.0, 100, 0.25)["ratio_to_trivial"] is None


def test_a_step_summary() -> None:
    log = a_log()
    log.fail("phase_a:503", "busy")
    cpu = {"nginx": 0.25, "backend": 1.5, "ai_server": 0.5, "redis": 0.25, "load_generator": 1.0}
    summary = summarize_step(2.0, 2.5, log, cpu, trivial_cpu_ms_per_request=0.25)
    assert summary["offered_per_s"] == 2.0
    assert summary["achieved_per_s"] == 1.6  # 4 passed over 2.5 s
    assert summary["completed"] == 4
    assert summary["errors"] == 1
    assert summary["errors_by_kind"] == {"phase_a:503": 1}
    assert summary["error_samples"] == ["phase_a:503 busy"]
    assert not summary["meets_target"]
    assert summary["cpu_ms_per_challenge"] == {
        "nginx": 62.5,
        "backend": 375.0,
        "ai_server": 125.0,
        "redis": 62.5,
        "total": 625.0,
    }
    assert summary["vs_trivial"]["backend"]["cpu_ms_per_request"] == 37.5  # 1.5 s over 40 requests
    assert summary["vs_trivial"]["ai_server"]["cpu_ms_per_request"] == 50.0  # 0.5 s over 10 requests


def step(rate: float, ok: bool, **outcomes: int) -> dict[str, Any]:
    return {"offered_per_s": rate, "meets_target": ok, "outcomes": outcomes}


def test_the_highest_passing_rate_is_the_top_of_the_unbroken_run_from_the_bottom() -> None:
    assert highest_passing_rate([step(2, True), step(4, True), step(8, False), step(12, True)]) == 4.0
    assert highest_passing_rate([step(4, True), step(2, True)]) == 4.0
    assert highest_passing_rate([step(2, False), step(4, True)]) is None
    assert highest_passing_rate([]) is None


def test_why_the_ramp_stopped() -> None:
    assert stopped_by([step(2, True), step(4, False)]) == "target"
    assert stopped_by([step(2, True), step(4, True, people_exhausted=3)]) == "people"
    assert stopped_by([step(2, True), step(4, True)]) == "ramp_end"
    assert stopped_by([]) == "ramp_end"


def a_step(rate: float, errors: int, completed: int, backend_s: float) -> dict[str, Any]:
    cpu = {"nginx": 0.25, "backend": backend_s, "ai_server": 0.5, "redis": 0.25, "load_generator": 0.5}
    return {
        "offered_per_s": rate,
        "errors": errors,
        "completed": completed,
        "cpu_s": cpu,
        "backend_requests": 50,
        "ai_requests": 20,
    }


def test_cpu_per_challenge_is_pooled_over_the_steps_without_errors() -> None:
    steps = [a_step(2.0, 0, 10, 1.0), a_step(4.0, 0, 10, 1.5), a_step(8.0, 1, 100, 99.0)]
    result = pooled(steps, trivial_cpu_ms_per_request=0.25)
    assert result["steps"] == [2.0, 4.0]
    assert result["completed"] == 20
    assert result["cpu_ms_per_challenge"] == {
        "nginx": 25.0,
        "backend": 125.0,
        "ai_server": 50.0,
        "redis": 25.0,
        "total": 225.0,
    }
    assert result["load_generator_cpu_ms_per_challenge"] == 50.0
    assert result["backend_requests_per_challenge"] == 5.0
    assert result["ai_requests_per_challenge"] == 2.0
    assert result["vs_trivial"]["backend"] == {
        "cpu_ms_per_request": 25.0,
        "requests_per_core_s": 40.0,
        "ratio_to_trivial": 0.01,
    }
    assert pooled([a_step(2.0, 1, 10, 1.0)], None)["cpu_ms_per_challenge"]["total"] is None


def read(data: bytes, fields: dict[str, str]) -> bytes:
    async def run() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_body(reader, fields)

    return asyncio.run(run())


def test_answers_are_read_by_length_or_in_chunks_and_gunzipped() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Odd:a:b"
    assert header_fields(head) == {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        "x-odd": "a:b",
    }
    assert read(b'{"ok":true}rest', {"content-length": "11"}) == b'{"ok":true}'
    assert read(b"", {}) == b""
    assert read(b"4\r\nabcd\r\n3;x=1\r\nefg\r\n0\r\n\r\n", {"transfer-encoding": "chunked"}) == b"abcdefg"
    packed = gzip.compress(b'{"problem":1}')
    chunked = f"{len(packed):x}".encode() + b"\r\n" + packed + b"\r\n0\r\n\r\n"
    fields = {"transfer-encoding": "chunked", "content-encoding": "gzip"}
    assert read(chunked, fields) == b'{"problem":1}'
