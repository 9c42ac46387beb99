"""The canonical grid of several segments at once equals the canonical grid of each segment on its own."""

from __future__ import annotations

import numpy as np

from tcurity.sampling import Path2, canonical_grid, canonical_grid_segments


def _assert_same(t: np.ndarray, x: np.ndarray, y: np.ndarray, bounds: np.ndarray) -> None:
    grid = canonical_grid_segments(t, x, y, bounds, 100.0)
    assert grid.counts.sum() == len(grid.t_ms)
    assert np.array_equal(grid.ends, grid.starts + grid.counts - 1)
    assert np.array_equal(grid.segment_ids, np.repeat(np.arange(len(bounds)), grid.counts))
    for k, (lo, hi) in enumerate(bounds):
        alone = canonical_grid(Path2(t[lo : hi + 1], x[lo : hi + 1], y[lo : hi + 1]), 100.0)
        batched = grid.segment(k)
        assert len(batched) == len(alone)
        np.testing.assert_allclose(batched.t_ms, alone.t_ms, rtol=0, atol=1e-6)
        np.testing.assert_allclose(batched.x, alone.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(batched.y, alone.y, rtol=0, atol=1e-9)


def test_random_streams_with_equal_times_pauses_and_shared_ends() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 120))
        gaps = rng.choice([0.0, 0.0, 5.0, 15.6, 50.0, 109.0, 300.0, 900.0], size=n - 1)
        t = 1000.0 + np.concatenate([[0.0], np.cumsum(gaps)])
        x, y = rng.normal(size=n).cumsum(), rng.normal(size=n).cumsum()
        k = int(rng.integers(1, 9))
        _assert_same(t, x, y, np.sort(rng.integers(0, n, size=2 * k)).reshape(k, 2))


def test_a_segment_in_no_time_becomes_two_points_one_millisecond_apart() -> None:
    # A teleport: the press and its only move share a time; the segment before it is ordinary.
    t = np.array([0.0, 100.0, 200.0, 200.0, 200.0])
    x = np.array([0.0, 1.0, 2.0, 2.5, 5.0])
    y = np.zeros(5)
    bounds = np.array([[0, 2], [2, 4]])
    _assert_same(t, x, y, bounds)
    segment = canonical_grid_segments(t, x, y, bounds).segment(1)
    assert segment.t_ms.tolist() == [200.0, 201.0]
    assert segment.x.tolist() == [2.0, 5.0]
