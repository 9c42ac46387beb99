"""The serving benchmark's arithmetic on hand-checked numbers: the HTTP cost beyond in-process scoring, read
with the bench's and with the server's own scoring, and the mean of repeats (no server runs, nothing is timed)."""

from __future__ import annotations

import pytest

from bench.serving import http_cost, mean_of


def test_the_server_s_own_scoring_is_the_figure_of_merit_when_exported() -> None:
    score = {"server_cpu_ms_per_request": 5.0, "server_scoring_cpu_ms": 4.75}
    cost = http_cost(score, {"server_cpu_ms_per_request": 0.125}, request_path_cpu_ms=4.0)
    assert cost["http_cost_outside_scoring_ms"] == pytest.approx(1.0)
    assert cost["http_cost_ratio_to_trivial"] == pytest.approx(8.0)
    assert cost["server_http_cost_outside_scoring_ms"] == pytest.approx(0.25)
    assert cost["server_http_cost_ratio_to_trivial"] == pytest.approx(2.0)
    assert cost["figure_of_merit"] == "server_http_cost_ratio_to_trivial"
    assert cost["target_ratio"] == 2.0
    assert cost["target_met"] is True


def test_without_the_server_s_scoring_the_bench_s_reading_decides() -> None:
    score = {"server_cpu_ms_per_request": 5.0, "server_scoring_cpu_ms": None}
    cost = http_cost(score, {"server_cpu_ms_per_request": 0.125}, request_path_cpu_ms=4.0)
    assert "server_http_cost_ratio_to_trivial" not in cost
    assert cost["figure_of_merit"] == "http_cost_ratio_to_trivial"
    assert cost["target_met"] is False


def test_repeats_are_averaged_key_by_key_and_a_missing_reading_stays_missing() -> None:
    merged = mean_of([{"rps": 100.0, "scoring": None}, {"rps": 300.0, "scoring": 1.0}])
    assert merged == {"rps": 200.0, "scoring": None}
