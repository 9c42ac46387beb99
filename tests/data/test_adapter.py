"""Mapping human strokes onto the perforation: the similarity transform, the bend and the resulting trace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tcurity.data.adapter import (
    bend_along,
    place_approach,
    scale_to_task,
    similarity_map,
    to_perforation,
    with_approach,
)
from tcurity.geometry import perforation_polyline, random_perforation
from tcurity.sampling import Path2
from tcurity.task_checks import check_follow
from tcurity.traces import Event, PerforationTask, Point2, TraceArrays, make_trace

# Chord (30, 40) px of length 50 in a 100 × 100 px area; its normal (-dy, dx) / length is (-0.8, 0.6).
DIAGONAL = PerforationTask(area_px=(100, 100), start=Point2(x=0.2, y=0.1), end=Point2(x=0.5, y=0.5), bend=0.2)
TICKET = PerforationTask(area_px=(640, 260), start=Point2(x=0.7, y=0.1), end=Point2(x=0.7, y=0.9))

# A straight horizontal stroke in screen pixels with the recordings' uneven clock and a late start.
STRAIGHT = Path2(
    np.array([5000.0, 5109.2, 5218.4, 5218.4 + 15.6, 5327.6, 5500.0]),
    np.array([200.0, 260.0, 330.0, 335.0, 390.0, 500.0]),
    np.full(6, 100.0),
)


def test_similarity_map_hand_values() -> None:
    # Chord (4, 0) onto chord (0, 8): a quarter turn and a scale of 2.
    path = Path2(np.arange(4.0), np.array([0.0, 1.0, 2.0, 4.0]), np.array([0.0, 1.0, 0.0, 0.0]))
    x, y = similarity_map(path, (10.0, 20.0), (10.0, 28.0))
    assert x == pytest.approx([10.0, 8.0, 10.0, 10.0])
    assert y == pytest.approx([20.0, 22.0, 24.0, 28.0])


def test_similarity_map_sends_the_ends_onto_the_targets_exactly() -> None:
    rng = np.random.default_rng(0)
    path = Path2(np.arange(8.0), rng.uniform(0, 1000, 8), rng.uniform(0, 800, 8))
    x, y = similarity_map(path, (448.0, 26.0), (455.3, 234.0))
    assert (x[0], y[0]) == pytest.approx((448.0, 26.0), abs=1e-9)
    assert (x[-1], y[-1]) == pytest.approx((455.3, 234.0), abs=1e-9)


def _signed_angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arctan2(a[0] * b[1] - a[1] * b[0], a @ b))


def test_similarity_map_keeps_distance_ratios_angles_and_orientation() -> None:
    rng = np.random.default_rng(1)
    path = Path2(np.arange(7.0), rng.uniform(0, 1000, 7), rng.uniform(0, 800, 7))
    x, y = similarity_map(path, (10.0, 20.0), (-50.0, 300.0))
    src = np.stack([path.x, path.y], axis=1)
    dst = np.stack([x, y], axis=1)
    scale = np.hypot(-60.0, 280.0) / np.hypot(*(src[-1] - src[0]))
    for i, j in itertools.combinations(range(7), 2):
        assert np.hypot(*(dst[j] - dst[i])) == pytest.approx(scale * np.hypot(*(src[j] - src[i])))
    for i, j, k in itertools.combinations(range(7), 3):
        # Cross and dot products scale alike: the signed angle at i (and so orientation) survives.
        a, b = src[j] - src[i], src[k] - src[i]
        c, d = dst[j] - dst[i], dst[k] - dst[i]
        assert _signed_angle(c, d) == pytest.approx(_signed_angle(a, b))


def test_similarity_map_of_a_closed_path_raises() -> None:
    closed = Path2(np.arange(3.0), np.array([5.0, 9.0, 5.0]), np.array([1.0, 4.0, 1.0]))
    with pytest.raises(ValueError, match="no chord"):
        similarity_map(closed, (0.0, 0.0), (1.0, 1.0))


def test_bend_along_fixes_the_ends_and_shifts_the_middle_by_bend_times_length() -> None:
    u = np.array([0.0, 0.25, 0.5, 1.0])
    x, y = 20.0 + 30.0 * u, 10.0 + 40.0 * u
    bx, by = bend_along(DIAGONAL, x, y)
    shift = 4.0 * 0.2 * 50.0 * u * (1.0 - u)  # 0, 7.5, 10, 0 px towards (-0.8, 0.6)
    assert bx == pytest.approx(x - 0.8 * shift)
    assert by == pytest.approx(y + 0.6 * shift)
    assert (bx[2], by[2]) == pytest.approx((35.0 - 8.0, 30.0 + 6.0))
    # The bent chord lies on the perforation's curve.
    assert (bx[2], by[2]) == pytest.approx(tuple(perforation_polyline(DIAGONAL)[32]))


def test_bend_along_leaves_points_beyond_the_ends_unshifted() -> None:
    x, y = np.array([20.0 - 3.0, 50.0 + 6.0]), np.array([10.0 - 4.0, 50.0 + 8.0])
    bx, by = bend_along(DIAGONAL, x, y)
    assert bx == pytest.approx(x)
    assert by == pytest.approx(y)


def test_bend_along_a_straight_perforation_changes_nothing() -> None:
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert bend_along(TICKET, x, y) == (x, y)


def test_to_perforation_keeps_the_time_profile_and_presses_once() -> None:
    arrays = to_perforation(STRAIGHT, TICKET)
    assert arrays.t_ms[0] == 0.0
    assert np.diff(arrays.t_ms) == pytest.approx(np.diff(STRAIGHT.t_ms))
    assert arrays.event.tolist() == [Event.DOWN] + [Event.MOVE] * 4 + [Event.UP]
    assert arrays.press_spans() == [(0, 5)]


def test_to_perforation_runs_from_start_to_end_of_the_perforation() -> None:
    arrays = to_perforation(STRAIGHT, TICKET)
    assert (arrays.x[0], arrays.y[0]) == pytest.approx((0.7, 0.1))
    assert (arrays.x[-1], arrays.y[-1]) == pytest.approx((0.7, 0.9))
    # A horizontal stroke 300 px long becomes the vertical perforation, 208 px long.
    assert arrays.x == pytest.approx(np.full(6, 0.7))
    assert arrays.y * 260.0 == pytest.approx(26.0 + (STRAIGHT.x - 200.0) * 208.0 / 300.0)
    assert scale_to_task(STRAIGHT, TICKET) == pytest.approx(208.0 / 300.0)


def test_a_straight_stroke_passes_the_follow_check_and_validates() -> None:
    check = check_follow(TICKET, to_perforation(STRAIGHT, TICKET))
    assert check.passed
    assert check.max_offset == pytest.approx(0.0, abs=1e-9)
    make_trace(to_perforation(STRAIGHT, TICKET), TICKET)


def test_a_straight_stroke_follows_random_bent_perforations() -> None:
    for seed in range(10):
        task = random_perforation(np.random.default_rng(seed))
        check = check_follow(task, to_perforation(STRAIGHT, task))
        assert check.passed
        assert check.max_offset < 1e-3


def test_an_approach_is_placed_to_end_on_the_grip_unscaled_and_untimed() -> None:
    path = Path2(np.array([0.0, 30.0, 60.0]), np.array([0.0, 100.0, 200.0]), np.array([0.0, 0.0, 0.0]))
    placed = place_approach(path, (400.0, 30.0), (640, 260), np.random.default_rng(0))
    assert placed is not None
    assert (placed.x[-1], placed.y[-1]) == pytest.approx((400.0, 30.0))
    assert np.hypot(placed.x[0] - 400.0, placed.y[0] - 30.0) == pytest.approx(200.0)
    np.testing.assert_array_equal(placed.t_ms, path.t_ms)
    assert np.all(
        (placed.x / 640 >= -1) & (placed.x / 640 <= 2) & (placed.y / 260 >= -1) & (placed.y / 260 <= 2)
    )


def test_an_approach_too_long_for_the_trace_bounds_is_not_placed() -> None:
    # 5,000 px cannot fit within -1 … 2 areas of a 640 × 260 ticket in any direction.
    path = Path2(np.array([0.0, 1.0]), np.array([0.0, 5000.0]), np.array([0.0, 0.0]))
    assert place_approach(path, (400.0, 30.0), (640, 260), np.random.default_rng(0)) is None


def test_with_approach_puts_the_moves_before_the_down_and_starts_the_clock_at_zero() -> None:
    tear = TraceArrays(
        np.array([0.5, 0.5, 0.5]),
        np.array([0.1, 0.5, 0.9]),
        np.array([0.0, 100.0, 200.0]),
        np.array([Event.DOWN, Event.MOVE, Event.UP], dtype=np.int8),
    )
    approach = Path2(np.array([0.0, 50.0, 80.0]), np.array([0.0, 160.0, 320.0]), np.array([26.0, 26.0, 26.0]))
    out = with_approach(tear, approach, (640, 260))
    assert out.event.tolist() == [Event.MOVE, Event.MOVE, Event.DOWN, Event.MOVE, Event.UP]
    # The approach's press (80 ms) falls on the down: its moves are 80 and 30 ms before it.
    np.testing.assert_allclose(out.t_ms, [0.0, 50.0, 80.0, 180.0, 280.0])
    np.testing.assert_allclose(out.x[:2], [0.0, 0.25])
