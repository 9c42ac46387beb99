"""The Phase B issue benchmark's tally (bench/pool.py), the one both load shapes count with."""

from __future__ import annotations

from bench.pool import IssueTally


def test_a_tally_counts_statuses_keeps_problem_ids_and_the_first_refusals() -> None:
    tally = IssueTally()
    tally.record(2.5, 200, b'{"problem": {"problem_id": "p-1"}}')
    for k in range(6):
        tally.record(1.0, 503, b'{"error": {"code": "pool_empty"}}' + bytes([48 + k]))
    report = tally.report(wall_s=0.5)
    assert report["latencies"] == [2.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert report["statuses"] == {"200": 1, "503": 6}
    assert report["problem_ids"] == ["p-1"]
    assert len(report["error_samples"]) == 5
    assert report["error_samples"][0] == "503 " + repr(b'{"error": {"code": "pool_empty"}}0')
    assert report["wall_s"] == 0.5
