"""Kinematic measures on small, hand-checkable paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.features import kinematics as km
from tcurity.sampling import Path2


def path(points: list[tuple[float, float]], dt_ms: float = 100.0) -> Path2:
    xy = np.array(points, dtype=np.float64)
    return Path2(np.arange(len(points)) * dt_ms, xy[:, 0], xy[:, 1])


def minimum_jerk(t_ms: np.ndarray, amplitude: float = 1.0) -> Path2:
    """The minimum-jerk reach ``10τ³ − 15τ⁴ + 6τ⁵`` along x over ``t_ms``."""
    tau = (t_ms - t_ms[0]) / (t_ms[-1] - t_ms[0])
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    return Path2(t_ms, amplitude * s, np.zeros_like(s))


def test_step_lengths_and_speeds() -> None:
    p = Path2(
        np.array([0.0, 500.0, 1000.0, 1250.0]), np.array([0.0, 3.0, 6.0, 6.0]), np.array([0.0, 4.0, 8.0, 8.0])
    )
    assert km.step_lengths(p).tolist() == [5.0, 5.0, 0.0]
    assert km.speeds(p).tolist() == [10.0, 10.0, 0.0]


def test_speed_of_a_step_without_time_is_finite() -> None:
    assert km.speeds(Path2(np.array([3.0, 3.0]), np.array([0.0, 1.0]), np.zeros(2))).tolist() == [1e6]


def test_path_efficiency() -> None:
    assert km.path_efficiency(path([(0, 0), (1, 0), (2, 0)])) == 1.0
    assert km.path_efficiency(path([(0, 0), (1, 0), (1, 1)])) == pytest.approx(1 / math.sqrt(2))
    assert km.path_efficiency(path([(0, 0), (1, 0), (0.5, 0)])) == pytest.approx(1 / 3)
    assert km.path_efficiency(path([(2, 2), (2, 2), (2, 2)])) == 1.0


def test_turning_angles() -> None:
    assert km.turning_angles(path([(0, 0), (1, 0), (1, 1)])) == pytest.approx([math.pi / 2])
    assert km.turning_angles(path([(0, 0), (1, 0), (1, -1)])) == pytest.approx([math.pi / 2])
    assert km.turning_angles(path([(0, 0), (1, 0), (2, 0)])) == pytest.approx([0.0])
    assert km.turning_angles(path([(0, 0), (1, 0), (0, 0)])) == pytest.approx([math.pi])


def test_turning_angles_wrap_around_the_back() -> None:
    # Headings 170° then −170°: a turn of 20°, not 340°.
    tan10 = math.tan(math.radians(10))
    assert km.turning_angles(path([(0, 0), (-1, tan10), (-2, 0)])) == pytest.approx([math.radians(20)])


def test_turning_angles_skip_steps_shorter_than_min_step() -> None:
    jitter = path([(0, 0), (1, 0), (1, 0.0005), (1, 1)])
    assert km.turning_angles(jitter) == pytest.approx([math.pi / 2])
    assert len(km.turning_angles(path([(0, 0), (0, 0), (0, 0)]))) == 0


@pytest.mark.parametrize(
    ("values", "min_height", "count"),
    [
        ([0, 1, 0, 2, 0], 0.0, 2),
        ([0, 1, 0, 2, 0], 1.5, 1),
        ([0, 1, 0, 2, 0], 2.5, 0),
        ([3, 1, 2], 0.0, 2),  # both ends lie above their neighbours
        ([0, 1, 2, 3], 0.0, 1),
        ([0, 1, 1, 0], 0.0, 1),  # a plateau counts once
        ([0, 2, 2, 1, 3, 3, 3, 0], 0.0, 2),
        ([1, 1, 1, 1, 1], 0.2, 1),
        ([0, 0, 1, 0, 0], 0.5, 1),
        ([5], 1.0, 1),
        ([0.5], 1.0, 0),
        ([1, 2], 1.5, 1),
        ([], 0.0, 0),
    ],
)
def test_count_peaks(values: list[float], min_height: float, count: int) -> None:
    assert km.count_peaks(np.array(values, dtype=np.float64), min_height) == count


def test_count_peaks_ignores_round_off() -> None:
    # A constant speed computed from interpolated positions wobbles in its last bits.
    wobble = 1.0 + np.array([0.0, 1.1, -1.1, 2.2, -1.1, 0.0, 2.2]) * 1e-15
    assert km.count_peaks(wobble, 0.2) == 1


@pytest.mark.parametrize(
    ("values", "dead_zone", "count"),
    [
        ([1, -1, 1], 0.0, 2),
        ([1, 0, 1], 0.0, 0),
        ([1, 0.01, -1], 0.1, 1),
        ([-0.05, 0.05, -0.05], 0.1, 0),
        ([2, 3, -1, -2, 4], 0.0, 2),
        ([], 0.0, 0),
    ],
)
def test_sign_changes(values: list[float], dead_zone: float, count: int) -> None:
    assert km.sign_changes(np.array(values, dtype=np.float64), dead_zone) == count


def test_ldlj_of_a_minimum_jerk_reach_is_its_textbook_value() -> None:
    # Continuous minimum jerk: ∫j² = 720 A²/T⁵ and v_peak = 1.875 A/T, so LDLJ = −ln(720 / 1.875²).
    reach = minimum_jerk(np.arange(0.0, 1001.0, 1.0))
    assert km.log_dimensionless_jerk(reach) == pytest.approx(-math.log(720 / 1.875**2), abs=0.02)


def test_ldlj_is_dimensionless() -> None:
    t = np.arange(0.0, 1001.0, 10.0)
    base = km.log_dimensionless_jerk(minimum_jerk(t))
    assert km.log_dimensionless_jerk(minimum_jerk(t, amplitude=3.0)) == pytest.approx(base)
    assert km.log_dimensionless_jerk(minimum_jerk(t * 2.0)) == pytest.approx(base)


def test_ldlj_a_stop_in_the_middle_is_less_smooth() -> None:
    t = np.arange(0.0, 1001.0, 10.0)
    smooth = minimum_jerk(t)
    # The same path in two minimum-jerk halves, standing still at the midpoint.
    first, second = minimum_jerk(t[t <= 500.0], 0.5), minimum_jerk(t[t >= 500.0], 0.5)
    stop = Path2(t, np.concatenate([first.x, 0.5 + second.x[1:]]), np.zeros_like(t))
    assert stop.x[50] == 0.5
    assert km.log_dimensionless_jerk(smooth) > km.log_dimensionless_jerk(stop) + 1.0


def test_ldlj_of_short_or_still_paths_is_zero() -> None:
    assert km.log_dimensionless_jerk(path([(0, 0), (1, 0), (2, 0)])) == 0.0
    assert km.log_dimensionless_jerk(path([(1, 1)] * 6)) == 0.0


def test_chord_frame() -> None:
    p = path([(0, 0), (1, 1), (2, 0), (3, -1), (1, -2)])
    u, v = km.chord_frame(p, np.array([0.0, 0.0]), np.array([2.0, 0.0]))
    assert u.tolist() == [0.0, 0.5, 1.0, 1.5, 0.5]
    # The normal of direction (2, 0) is (0, 2): +y is positive.
    assert v.tolist() == [0.0, 0.5, 0.0, -0.5, -1.0]
