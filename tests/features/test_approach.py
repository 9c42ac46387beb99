"""The approach to the grip (:mod:`tcurity.features.approach`), on hand-made traces whose answers are worked out by
hand."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.features.approach import (
    APPROACH_FEATURE_NAMES,
    ApproachLimits,
    approach_features,
    approach_path,
    judged,
)
from tcurity.sampling import BROWSER_GRID_MS, Path2
from tcurity.traces import Event, TraceArrays

AREA = (100, 100)  # 1 task unit = 100 px on both axes
M, D, U = Event.MOVE, Event.DOWN, Event.UP


def trace(points: list[tuple[float, float, float, int]]) -> TraceArrays:
    """``(x_px, y_px, t_ms, event)`` rows as arrays in task units of :data:`AREA`."""
    x, y, t, e = zip(*points, strict=True)
    return TraceArrays(
        np.array(x) / 100, np.array(y) / 100, np.array(t, dtype=float), np.array(e, dtype=np.int8)
    )


TEAR = [(100.0, 0.0, 1000.0, U)]  # the tear's release (its moves do not matter here)


def test_the_approach_starts_at_the_last_move_after_a_rest_and_ends_at_the_press() -> None:
    # A rest of 500 ms (> 400) after the second move: the approach is moves 2 and 3 and the press (3 points).
    arrays = trace([(0, 0, 0, M), (10, 0, 20, M), (50, 0, 520, M), (80, 0, 540, M), (100, 0, 560, D), *TEAR])
    path = approach_path(arrays, AREA, ApproachLimits())
    assert path is not None
    np.testing.assert_allclose(path.x, [50, 80, 100])
    np.testing.assert_allclose(path.t_ms, [520, 540, 560])


def test_a_rest_on_the_grip_before_pressing_is_not_part_of_the_movement() -> None:
    # The pointer arrived at 100 px at 60 ms and pressed 600 ms later: the movement ends at its last move.
    arrays = trace([(0, 0, 0, M), (40, 0, 20, M), (70, 0, 40, M), (100, 0, 60, M), (100, 0, 660, D), *TEAR])
    path = approach_path(arrays, AREA, ApproachLimits())
    assert path is not None
    np.testing.assert_allclose(path.t_ms, [0, 20, 40, 60])


@pytest.mark.parametrize(
    "points",
    [
        [(100, 0, 0, D), *TEAR],  # no move before the press
        [(90, 0, 0, M), (95, 0, 20, M), (100, 0, 40, D), *TEAR],  # a 10 px chord: under min_chord_px (40)
        [(0, 0, 0, M), (100, 0, 40, D), *TEAR],  # two points: under min_points (3)
    ],
)
def test_nothing_to_judge_gives_none(points: list[tuple[float, float, float, int]]) -> None:
    assert approach_path(trace(points), AREA, ApproachLimits()) is None


def test_judged_drops_only_a_final_rest() -> None:
    path = Path2(np.array([0.0, 20.0, 40.0, 500.0]), np.array([0.0, 30.0, 60.0, 60.0]), np.zeros(4))
    kept = judged(path, ApproachLimits())
    assert kept is not None and len(kept) == 3


def test_a_straight_steady_approach_measures_as_one() -> None:
    # 200 px to the right in 400 ms at constant speed: efficiency 1, no deviation, no overshoot, chord 10^2.301.
    t = np.linspace(0.0, 400.0, 25)
    values = dict(
        zip(
            APPROACH_FEATURE_NAMES,
            approach_features(Path2(t, t / 2.0, np.zeros_like(t)), BROWSER_GRID_MS),
            strict=True,
        )
    )
    assert values["approach_path_efficiency"] == pytest.approx(1.0)
    assert values["approach_dev_max"] == pytest.approx(0.0, abs=1e-12)
    assert values["approach_overshoot"] == pytest.approx(0.0, abs=1e-12)
    assert values["approach_log_chord_px"] == pytest.approx(np.log10(200.0))
    assert values["approach_log_duration_s"] == pytest.approx(np.log10(0.4))


def test_an_overshoot_past_the_grip_shows() -> None:
    # Out to 240 px, back to 200 px: the overshoot is 40 px, 0.2 of the 200 px chord (before the grid's smoothing
    # shaves the peak a little).
    t = np.arange(0.0, 17.0 * 30, 17.0)
    x = np.concatenate([np.linspace(0.0, 240.0, 20), np.linspace(240.0, 200.0, 10)])
    values = dict(
        zip(
            APPROACH_FEATURE_NAMES,
            approach_features(Path2(t, x, np.zeros_like(x)), BROWSER_GRID_MS),
            strict=True,
        )
    )
    assert 0.15 < values["approach_overshoot"] <= 0.2
