"""Hand-checkable tests of each family's mathematics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.sampling import Path2
from tcurity.simulate import (
    bezier_eased,
    ghost_cursor,
    linear_steps,
    minimum_jerk,
    replay,
    teleport,
    windmouse,
)
from tcurity.simulate.function_based import (
    Shape,
    constant_profile,
    function_path,
    gaussian_profile,
    logarithmic_profile,
    shape_offset,
)
from tcurity.simulate.motion import bezier, even_clock_ms, fitts_duration_ms, from_chord, resample_by_arc

from .conftest import make_human_stroke


def _speeds(path: Path2) -> np.ndarray:
    dt = np.diff(path.t_ms)
    return np.hypot(np.diff(path.x), np.diff(path.y)) / dt


def _cross(path: Path2, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Signed distance of every point from the start→end line (pixels)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    return ((path.x - start[0]) * dy - (path.y - start[1]) * dx) / math.hypot(dx, dy)


# --- shared kinematics -------------------------------------------------------------------------------------


def test_bezier_of_a_straight_control_polygon_is_the_segment() -> None:
    points = bezier(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), np.array([0.0, 0.5, 1.0]))
    assert points.tolist() == [[0.0, 0.0], [1.5, 0.0], [3.0, 0.0]]


def test_quadratic_bezier_midpoint_is_halfway_to_the_control() -> None:
    points = bezier(np.array([[0.0, 0.0], [2.0, 4.0], [4.0, 0.0]]), np.array([0.5]))
    assert points.tolist() == [[2.0, 2.0]]


def test_resample_by_arc_places_points_by_distance() -> None:
    corner = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    assert resample_by_arc(corner, np.array([0.0, 0.25, 0.5, 0.75, 1.0])).tolist() == [
        [0.0, 0.0],
        [5.0, 0.0],
        [10.0, 0.0],
        [10.0, 5.0],
        [10.0, 10.0],
    ]


def test_from_chord_uses_the_minus_dy_dx_normal() -> None:
    # chord pointing down (+y): the normal (-dy, dx) points to -x.
    points = from_chord((0.0, 0.0), (0.0, 10.0), np.array([0.5]), np.array([2.0]))
    assert points.tolist() == [[-2.0, 5.0]]


def test_even_clock_keeps_ends_and_order() -> None:
    times = even_clock_ms(100.0, 11, jitter_ms=50.0, rng=np.random.default_rng(0))
    assert times[0] == 0.0 and times[-1] == 100.0 and len(times) == 11
    assert np.all(np.diff(times) > 0.0)


def test_fitts_duration_of_one_bit() -> None:
    assert fitts_duration_ms(100.0, 100.0, intercept_ms=50.0, slope_ms_per_bit=150.0) == 200.0


# --- teleport and linear steps -----------------------------------------------------------------------------


def test_teleport_is_a_single_jump_a_few_ms_after_the_start() -> None:
    path = teleport.teleport((10.0, 20.0), (300.0, 400.0), np.random.default_rng(0))
    assert path.x.tolist() == [10.0, 300.0] and path.y.tolist() == [20.0, 400.0]
    assert 1.0 <= path.duration_ms <= 6.0


def test_playwright_steps_are_equal_and_collinear() -> None:
    path = linear_steps.playwright_steps((0.0, 0.0), (100.0, 50.0), np.random.default_rng(0), steps=10)
    assert len(path) == 11
    assert np.allclose(np.diff(path.x), 10.0) and np.allclose(np.diff(path.y), 5.0)
    gaps = np.diff(path.t_ms)
    assert np.all((gaps >= 1.0) & (gaps <= 8.0))


@pytest.mark.parametrize("seed", range(5))
def test_linear_steps_points_are_collinear(seed: int) -> None:
    start, end = (20.0, 30.0), (250.0, 400.0)
    path = linear_steps.linear_steps(start, end, np.random.default_rng(seed))
    assert np.allclose(_cross(path, start, end), 0.0, atol=1e-9)
    assert np.all(np.diff(path.x) >= 0.0)  # never backwards


def test_selenium_move_lasts_250_ms_with_frame_spaced_events() -> None:
    path = linear_steps.selenium_move((0.0, 0.0), (250.0, 0.0), np.random.default_rng(0))
    assert path.duration_ms == 250.0
    assert np.allclose(path.x, path.t_ms)  # 1 px per ms: linear in time
    assert np.all(np.diff(path.t_ms)[:-1] == pytest.approx(16.0, abs=1.0))


# --- BeCAPTCHA function-based ------------------------------------------------------------------------------


def test_velocity_profiles_cover_the_whole_distance() -> None:
    tau = np.array([0.0, 1.0])
    for covered in (constant_profile(tau), logarithmic_profile(tau, 20.0), gaussian_profile(tau, 0.5, 0.2)):
        assert covered.tolist() == pytest.approx([0.0, 1.0])


def test_logarithmic_profile_slows_down() -> None:
    speed = np.diff(logarithmic_profile(np.linspace(0.0, 1.0, 11), 20.0))
    assert np.all(np.diff(speed) < 0.0)


def test_gaussian_profile_peaks_at_its_centre() -> None:
    speed = np.diff(gaussian_profile(np.linspace(0.0, 1.0, 101), 0.5, 0.15))
    assert np.argmax(speed) in (49, 50)
    assert speed[50] > 3.0 * speed[5]


@pytest.mark.parametrize("shape", ["linear", "quadratic", "exponential"])
def test_shapes_pass_through_both_ends(shape: Shape) -> None:
    offset = shape_offset(shape, np.array([0.0, 0.3, 0.7, 1.0]), np.random.default_rng(0))
    assert offset[0] == pytest.approx(0.0, abs=1e-12) and offset[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.max(np.abs(offset)) <= 0.2


def test_quadratic_shape_is_a_symmetric_parabola() -> None:
    offset = shape_offset("quadratic", np.array([0.25, 0.5, 0.75]), np.random.default_rng(1))
    assert offset[0] == pytest.approx(offset[2]) and offset[1] == pytest.approx(offset[0] * 4.0 / 3.0)


def test_constant_profile_gives_equal_steps_for_equal_times() -> None:
    rng = np.random.default_rng(0)
    path = function_path("linear", "constant", (0.0, 0.0), (300.0, 0.0), rng)
    assert np.allclose(_speeds(path), 300.0 / path.duration_ms, rtol=1e-6)
    assert np.allclose(path.y, 0.0)


def test_logarithmic_path_is_fastest_at_the_start() -> None:
    path = function_path("linear", "logarithmic", (0.0, 0.0), (300.0, 0.0), np.random.default_rng(0))
    speeds = _speeds(path)
    assert speeds[0] == np.max(speeds) and speeds[-1] < speeds[0] / 3.0


def test_gaussian_path_is_fastest_mid_way() -> None:
    path = function_path("linear", "gaussian", (0.0, 0.0), (300.0, 0.0), np.random.default_rng(0))
    speeds = _speeds(path)
    peak_tau = path.t_ms[np.argmax(speeds)] / path.duration_ms
    assert 0.3 < peak_tau < 0.7
    assert speeds[0] < np.max(speeds) / 2.0 and speeds[-1] < np.max(speeds) / 2.0


def test_function_sampling_rate_is_60_to_125_hz() -> None:
    path = function_path("quadratic", "constant", (0.0, 0.0), (300.0, 100.0), np.random.default_rng(2))
    mean_gap_ms = path.duration_ms / (len(path) - 1)
    assert 1000.0 / 125.0 - 0.5 <= mean_gap_ms <= 1000.0 / 60.0 + 0.5


# --- pyclick / HumanCursor ---------------------------------------------------------------------------------


def test_tween_with_linear_easing_keeps_every_point() -> None:
    points = np.arange(22.0).reshape(11, 2)
    assert bezier_eased.tween(points, "linear", 11).tolist() == points.tolist()


def test_ease_out_tween_repeats_points_near_the_end() -> None:
    points = np.stack([np.arange(10.0), np.zeros(10)], axis=1)
    picked = bezier_eased.tween(points, "easeOutQuad", 20)[:, 0]
    assert picked[0] == 0.0 and picked[-1] == 9.0
    assert np.all(np.diff(picked) >= 0.0)
    steps = np.diff(picked)
    assert steps[:3].sum() > steps[-3:].sum() and np.count_nonzero(steps[-5:] == 0.0) >= 2


def test_distortion_moves_only_interior_y() -> None:
    points = np.stack([np.arange(50.0), np.zeros(50)], axis=1)
    out = bezier_eased.distort(points, np.random.default_rng(0))
    assert np.array_equal(out[:, 0], points[:, 0])
    assert out[0, 1] == 0.0 and out[-1, 1] == 0.0 and np.any(out[1:-1, 1] != 0.0)


def test_bezier_eased_emits_35_to_80_evenly_timed_events() -> None:
    path = bezier_eased.bezier_eased((0.0, 0.0), (300.0, 200.0), np.random.default_rng(0))
    assert 35 <= len(path) <= 80
    gaps = np.diff(path.t_ms)
    assert np.max(gaps) - np.min(gaps) < 2.0 * 0.9 * np.mean(gaps)


# --- ghost-cursor ------------------------------------------------------------------------------------------


def test_ghost_cursor_step_count_follows_its_formula() -> None:
    # length 125 → 0.8·125 / 100 + 1 = 2 → fitts = 2·1 = 2; log2(3) + 0 = 1.585 → ceil(4.75) = 5.
    assert ghost_cursor.step_count(125.0, speed=0.0) == 5
    assert ghost_cursor.step_count(125.0, speed=1.0) == math.ceil((math.log2(3.0) + 25.0) * 3.0)


def test_ghost_cursor_control_points_sit_on_one_side_sorted_by_x() -> None:
    for seed in range(20):
        control = ghost_cursor.control_points((0.0, 0.0), (0.0, 300.0), 200.0, np.random.default_rng(seed))
        sides = np.sign(control[1:3, 0])
        assert sides[0] == sides[1] or 0.0 in sides
        assert control[1, 0] <= control[2, 0]
        assert np.all(np.abs(control[1:3, 0]) <= 200.0)


def _passes_target(path: Path2, start: tuple[float, float], end: tuple[float, float]) -> bool:
    chord = np.subtract(end, start)
    along = ((path.x - start[0]) * chord[0] + (path.y - start[1]) * chord[1]) / float(chord @ chord)
    return bool(np.any(along > 1.0 + 1e-9))


def test_ghost_cursor_overshoots_long_moves_only() -> None:
    start, near, far = (0.0, 0.0), (400.0, 0.0), (800.0, 0.0)
    short = [ghost_cursor.ghost_cursor(start, near, np.random.default_rng(s)) for s in range(20)]
    long = [ghost_cursor.ghost_cursor(start, far, np.random.default_rng(s)) for s in range(20)]
    assert not any(_passes_target(p, start, near) for p in short)  # the Bézier's hull stays within the chord
    assert sum(_passes_target(p, start, far) for p in long) >= 4  # half the overshoot disc lies beyond


def test_ghost_cursor_corrective_path_starts_within_the_overshoot_radius() -> None:
    path = ghost_cursor.ghost_cursor((0.0, 0.0), (800.0, 0.0), np.random.default_rng(5))
    distance_to_target = np.hypot(path.x - 800.0, path.y)
    assert np.min(distance_to_target[:-1]) <= 120.0
    assert len(path) > ghost_cursor.step_count(800.0, speed=0.0)


# --- WindMouse ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_windmouse_steps_never_exceed_the_maximum_step(seed: int) -> None:
    positions = windmouse.wind_positions((0.0, 0.0), (400.0, 300.0), np.random.default_rng(seed))
    steps = np.hypot(*np.diff(positions, axis=0).T)
    assert np.all(steps <= windmouse.WindParams().max_step + 1e-9)
    assert steps[-1] < 1.0  # the final snap onto the target
    assert positions[-1].tolist() == [400.0, 300.0]


def test_windmouse_slows_down_near_the_target() -> None:
    positions = windmouse.wind_positions((0.0, 0.0), (600.0, 0.0), np.random.default_rng(0))
    steps = np.hypot(*np.diff(positions, axis=0).T)
    assert np.mean(steps[-4:]) < np.mean(steps[: len(steps) // 2]) / 2.0


def test_windmouse_sleeps_grow_with_the_step() -> None:
    positions = np.array([[0.0, 0.0], [0.0, 0.0], [15.0, 0.0]])
    waits = windmouse.step_waits_ms(positions, 15.0, np.random.default_rng(0))
    assert 2.0 <= waits[0] <= 5.0 + windmouse.SLEEP_OVERSHOOT_MS
    assert 8.0 <= waits[1] <= 16.0 + windmouse.SLEEP_OVERSHOOT_MS


# --- minimum jerk ------------------------------------------------------------------------------------------


def test_minimum_jerk_profile_hand_values() -> None:
    covered = minimum_jerk.minimum_jerk_profile(np.array([0.0, 0.5, 1.0]))
    assert covered.tolist() == [0.0, 0.5, 1.0]
    # speed 30τ²(1-τ)²: 1.875 at mid-time, 0 at both ends
    dt = 1e-6
    mid_speed = (minimum_jerk.minimum_jerk_profile(np.array([0.5 + dt]))[0] - 0.5) / dt
    assert mid_speed == pytest.approx(1.875, rel=1e-4)


def test_minimum_jerk_speed_is_bell_shaped_with_its_peak_at_mid_time() -> None:
    path = minimum_jerk.minimum_jerk((0.0, 0.0), (400.0, 0.0), np.random.default_rng(0))
    speeds = np.convolve(_speeds(path), np.ones(5) / 5.0, mode="same")
    mid_times = (path.t_ms[1:] + path.t_ms[:-1]) / 2.0
    peak_tau = mid_times[np.argmax(speeds)] / path.duration_ms
    assert 0.4 < peak_tau < 0.6
    rising, falling = speeds[: np.argmax(speeds)], speeds[np.argmax(speeds) :]
    assert np.corrcoef(np.arange(len(rising)), rising)[0, 1] > 0.9
    assert np.corrcoef(np.arange(len(falling)), falling)[0, 1] < -0.9


def test_minimum_jerk_runs_at_a_browser_frame_rate() -> None:
    path = minimum_jerk.minimum_jerk((0.0, 0.0), (400.0, 0.0), np.random.default_rng(1))
    rate_hz = 1000.0 * (len(path) - 1) / path.duration_ms
    assert min(minimum_jerk.FRAME_RATES_HZ) - 5.0 < rate_hz < max(minimum_jerk.FRAME_RATES_HZ) + 5.0


# --- replay ------------------------------------------------------------------------------------------------


def test_retarget_is_a_similarity() -> None:
    source = Path2(np.array([0.0, 1.0, 2.0]), np.array([0.0, 5.0, 10.0]), np.array([0.0, 2.0, 0.0]))
    # rotate by +90°, scale ×2, translate to (1, 1)
    mapped = replay.retarget(source, (1.0, 1.0), (1.0, 21.0))
    np.testing.assert_allclose(mapped, [[1.0, 1.0], [-3.0, 11.0], [1.0, 21.0]], atol=1e-12)


def test_retarget_refuses_a_source_without_displacement() -> None:
    source = Path2(np.array([0.0, 1.0]), np.array([3.0, 3.0]), np.array([4.0, 4.0]))
    with pytest.raises(ValueError, match="away"):
        replay.retarget(source, (0.0, 0.0), (10.0, 0.0))


def test_time_warp_keeps_order_and_scales_the_duration() -> None:
    t = np.array([100.0, 100.0, 150.0, 300.0])
    assert replay.time_warp(t, 1.0, 0.0).tolist() == [0.0, 0.0, 50.0, 200.0]
    warped = replay.time_warp(np.linspace(0.0, 1000.0, 101), 1.25, 0.15)
    assert warped[-1] == pytest.approx(1250.0) and np.all(np.diff(warped) > 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_replay_keeps_the_source_duration_up_to_the_warp_and_lands_on_target(seed: int) -> None:
    source = make_human_stroke(np.random.default_rng(seed))
    path = replay.replay(source, (30.0, 40.0), (60.0, 250.0), np.random.default_rng(seed))
    assert 0.8 * source.duration_ms <= path.duration_ms <= 1.25 * source.duration_ms
    assert len(path) == len(source)
    assert (path.x[-1], path.y[-1]) == (60.0, 250.0)
    # zero gaps of the recording survive the warp
    assert np.count_nonzero(np.diff(path.t_ms) == 0.0) == np.count_nonzero(np.diff(source.t_ms) == 0.0)
