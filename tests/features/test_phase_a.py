"""Phase A features on hand-made tears of a vertical perforation.

The perforation runs from (50, 10) to (50, 90) px of a 100 × 100 px area: 80 px long, so one task-normalised
0.1 step in y is 10 px = 0.125 lengths. Events lie on the 100 ms canonical grid, so the grid keeps their times;
its ``[1/4, 1/2, 1/4]`` smoothing leaves straight constant-speed stretches alone and rounds every corner, which
the expected values below account for.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.data.adapter import to_perforation
from tcurity.datasets import TraceRecord
from tcurity.features.fine import FINE_FEATURE_NAMES, RATE_SENSITIVE, fine_features
from tcurity.features.phase_a import (
    FEATURE_NAMES,
    FINE_MODEL_FEATURES,
    KINEMATIC_FEATURE_NAMES,
    feature_table,
    phase_a_evidence,
    phase_a_features,
    press_path,
    progress_time_frac,
)
from tcurity.geometry import grid_layout, random_perforation
from tcurity.sampling import Path2
from tcurity.task_checks import check_follow
from tcurity.traces import Event, PerforationTask, Point2, TraceArrays

VERTICAL = PerforationTask(area_px=(100, 100), start=Point2(x=0.5, y=0.1), end=Point2(x=0.5, y=0.9))


def press(x: list[float], y: list[float], dt_ms: float = 100.0) -> TraceArrays:
    n = len(x)
    event = np.full(n, Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    return TraceArrays(
        np.array(x, dtype=np.float64), np.array(y, dtype=np.float64), np.arange(n) * dt_ms, event
    )


def features(arrays: TraceArrays) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, phase_a_features(VERTICAL, arrays).tolist(), strict=True))


def test_feature_names_are_unique() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 20 + 8
    assert FEATURE_NAMES == KINEMATIC_FEATURE_NAMES + FINE_MODEL_FEATURES


def test_no_rate_sensitive_feature_is_in_the_vector() -> None:
    # hf_band_ratio failed the rate-invariance test: no model may read it, so the vector never holds it.
    assert RATE_SENSITIVE == ("hf_band_ratio",)
    assert "hf_band_ratio" not in FEATURE_NAMES
    assert set(FINE_MODEL_FEATURES) == set(FINE_FEATURE_NAMES) - {"hf_band_ratio"}


def test_the_fine_features_are_those_of_the_press_on_the_grid() -> None:
    # One path for training and serving: the vector's fine part is fine_features of the press as press_path puts
    # it on the grid (here the 60 Hz browser grid), nothing recomputed elsewhere.
    arrays = press([0.5, 0.52, 0.49, 0.5, 0.51, 0.5], [0.1, 0.25, 0.4, 0.6, 0.8, 0.9], dt_ms=50.0)
    grid_ms = 1000.0 / 60.0
    vector = phase_a_features(VERTICAL, arrays, grid_ms)
    fine = dict(
        zip(FINE_FEATURE_NAMES, fine_features(press_path(VERTICAL, arrays, grid_ms).path), strict=True)
    )
    assert vector[len(KINEMATIC_FEATURE_NAMES) :].tolist() == [fine[n] for n in FINE_MODEL_FEATURES]


def test_a_straight_constant_speed_tear_of_one_second() -> None:
    # Events every 10 ms (a browser), put on the 100 ms grid.
    f = features(press([0.5] * 101, np.linspace(0.1, 0.9, 101).tolist(), dt_ms=10.0))
    exact = {
        "log_duration_s": 0.0,
        "path_efficiency": 1.0,
        "peak_speed_ratio": 1.0,
        "speed_cv": 0.0,
        "n_speed_peaks": 1.0,
        "accel_sign_changes": 0.0,
        "turn_mean": 0.0,
        "turn_max": 0.0,
        "dev_max": 0.0,
        "dev_mean_abs": 0.0,
        "dev_crossings": 0.0,
        "pause_frac": 0.0,
        "start_speed_frac": 1.0,
        "end_speed_frac": 1.0,
        "overshoot": 0.0,
        "backtrack": 0.0,
        "t_half_frac": 0.5,
        "t_ninety_frac": 0.9,
    }
    assert {name: f[name] for name in exact} == pytest.approx(exact, abs=1e-9)


def test_an_l_shaped_press() -> None:
    # Down 40 px, then right 40 px. Smoothing cuts the corner (50, 50) to (52.5, 47.5): two steps of
    # √62.5 = 2.5√10 px replace 20 px, and the quarter turn splits into turns of atan(1/3), atan(4/3), atan(1/3).
    f = features(press([0.5] * 5 + [0.6, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4, 0.5] + [0.5] * 4))
    assert f["path_efficiency"] == pytest.approx(40 * math.sqrt(2) / (60 + 5 * math.sqrt(10)))
    assert f["turn_max"] == pytest.approx(math.atan(4 / 3))
    assert f["turn_mean"] == pytest.approx(math.pi / 2 / 7)
    assert f["log_duration_s"] == pytest.approx(math.log10(0.8))


def test_a_tear_with_a_stop_in_the_middle() -> None:
    # 400 ms to the middle, 400 ms still, 400 ms to the end. After smoothing the steps are, in units of
    # 2.5 px per 100 ms (0.3125 lengths/s): 4 4 4 3 1 0 0 1 3 4 4 4.
    y = [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9]
    f = features(press([0.5] * 13, y))
    assert f["pause_frac"] == pytest.approx(2 / 12)
    assert f["n_speed_peaks"] == 2.0
    # Mean 8/3 units, variance 29/3 − 64/9 = 23/9.
    assert f["peak_speed_ratio"] == pytest.approx(1.5)
    assert f["speed_cv"] == pytest.approx(math.sqrt(23) / 8)
    # One deceleration and one acceleration beyond the dead zone, over 1.2 s.
    assert f["accel_sign_changes"] == pytest.approx(1 / 1.2)
    assert f["start_speed_frac"] == 1.0
    assert f["end_speed_frac"] == 1.0
    # Halfway (50 px) is first reached at 500 ms; 0.9 of the way (82 px) 1/5 into the last step.
    assert f["t_half_frac"] == pytest.approx(500 / 1200)
    assert f["t_ninety_frac"] == pytest.approx(1120 / 1200)
    assert f["path_efficiency"] == pytest.approx(1.0)


def test_an_overshoot_and_its_backtrack() -> None:
    # To the end, on 10 px (0.125 lengths) past it, a rest, and back: y 10 30 50 70 87.5 97.5 100 97.5 90 px
    # after smoothing, 90 px forward and 10 px back.
    f = features(press([0.5] * 9, [0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.0, 1.0, 0.9]))
    assert f["overshoot"] == pytest.approx(0.125)
    assert f["backtrack"] == pytest.approx(0.125)
    assert f["path_efficiency"] == pytest.approx(0.8)
    assert f["turn_max"] == pytest.approx(math.pi)
    assert f["end_speed_frac"] == pytest.approx(7.5 / 20)


def test_deviation_to_the_normal_side_is_positive() -> None:
    # Direction (0, 80) px: the normal (-dy, dx) points to -x. 4 px to the left is +0.05 lengths.
    f = features(press([0.46] * 5, [0.1, 0.3, 0.5, 0.7, 0.9]))
    assert f["dev_max"] == pytest.approx(0.05)
    assert f["dev_mean_abs"] == pytest.approx(0.05)
    assert f["dev_crossings"] == 0.0
    across = press_path(VERTICAL, press([0.46] * 5, [0.1, 0.3, 0.5, 0.7, 0.9])).across
    assert across == pytest.approx(np.full(5, 0.05))


def test_a_weave_crosses_the_line() -> None:
    # x 50 42 42 58 58 42 42 50 px smooths to 50 44 46 54 54 46 44 50: +6 +4 −4 −4 +4 +6 px off the line.
    x = [0.5, 0.42, 0.42, 0.58, 0.58, 0.42, 0.42, 0.5]
    f = features(press(x, [0.1 + 0.8 * i / 7 for i in range(8)]))
    assert f["dev_crossings"] == 2.0
    assert f["dev_max"] == pytest.approx(6 / 80)
    assert f["dev_mean_abs"] == pytest.approx(28 / 8 / 80)


def test_press_path_uses_the_first_press_in_perforation_lengths() -> None:
    first = press([0.5, 0.5, 0.5], [0.1, 0.5, 0.9])
    trace = TraceArrays(
        np.concatenate([first.x, [0.0, 0.0]]),
        np.concatenate([first.y, [0.0, 0.0]]),
        np.arange(5) * 100.0,
        np.concatenate([first.event, [Event.DOWN, Event.UP]]).astype(np.int8),
    )
    p = press_path(VERTICAL, trace)
    assert p.path.t_ms.tolist() == [0.0, 100.0, 200.0]
    assert p.path.y == pytest.approx([10 / 80, 50 / 80, 90 / 80])
    assert p.along == pytest.approx([0.0, 0.5, 1.0])


def test_press_path_without_a_press_raises() -> None:
    moves = TraceArrays(np.full(3, 0.5), np.array([0.1, 0.5, 0.9]), np.arange(3.0), np.ones(3, np.int8))
    with pytest.raises(ValueError, match="no press"):
        press_path(VERTICAL, moves)


@pytest.mark.parametrize(
    ("level", "frac"),
    [(0.5, 0.5), (0.25, 1 / 3), (0.0, 0.0), (0.75, 2 / 3), (0.8, 1.0), (1.1, 1.0)],
)
def test_progress_time_frac(level: float, frac: float) -> None:
    p = Path2(np.array([0.0, 100.0, 200.0, 300.0]), np.zeros(4), np.zeros(4))
    # The step back (0.75 → 0.6) neither undoes the progress made nor reaches 0.8.
    assert progress_time_frac(p, np.array([0.0, 0.25, 0.75, 0.6]), level) == pytest.approx(frac)


def test_progress_time_frac_interpolates_between_instants() -> None:
    p = Path2(np.array([0.0, 100.0, 200.0, 300.0]), np.zeros(4), np.zeros(4))
    assert progress_time_frac(p, np.array([0.0, 0.25, 0.75, 1.0]), 0.875) == pytest.approx(2.5 / 3)


TELEPORTS = {
    "jump_along": press([0.5, 0.5], [0.1, 0.9], dt_ms=0.0),
    "jump_across": press([0.3, 0.6], [0.5, 0.2], dt_ms=0.0),
    "still": press([0.5, 0.5], [0.1, 0.1], dt_ms=0.0),
    "still_long": press([0.5] * 3, [0.1] * 3),
}


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_feature_is_finite_on_degenerate_presses(name: str) -> None:
    for arrays in TELEPORTS.values():
        assert math.isfinite(features(arrays)[name])


def test_feature_table_rows_and_geometry() -> None:
    tear = press([0.5] * 9, [0.1 + 0.1 * i for i in range(9)])
    record = TraceRecord("h-1", "human", "human", "user7", "train", VERTICAL, tear)
    table = feature_table([record], grid_ms=100.0)
    assert table.columns.tolist()[:8] == [
        "trace_id",
        "source",
        "family",
        "user",
        "split",
        "sampling",
        "geometry_passed",
        "geometry_reason",
    ]
    assert table.columns.tolist()[8:] == list(FEATURE_NAMES)
    row = table.iloc[0]
    assert (row.trace_id, row.sampling, bool(row.geometry_passed), row.geometry_reason) == (
        "h-1",
        "native",
        True,
        "",
    )
    grid = TraceRecord("b-1", "bot", "teleport", "", "test", grid_layout(3), tear)
    with pytest.raises(TypeError, match="b-1 is not a Phase A trace"):
        feature_table([grid], grid_ms=100.0)


@pytest.mark.parametrize("bend", [0.0, 0.2, -0.15])
def test_the_one_pass_evidence_is_exactly_the_follow_check_and_the_features(
    human_paths: list[Path2], bend: float
) -> None:
    """Serving's one pass gives bit for bit what the two separate functions give, on real strokes (some of
    which miss the band, so failing checks are compared too)."""
    rng = np.random.default_rng(7)
    failed = 0
    for path in human_paths[:40]:
        task = random_perforation(rng).model_copy(update={"bend": bend})
        arrays = to_perforation(path, task)
        follow, values = phase_a_evidence(task, arrays, 1000.0 / 60.0)
        assert follow == check_follow(task, arrays)
        assert values.tobytes() == phase_a_features(task, arrays, 1000.0 / 60.0).tobytes()
        failed += not follow.passed
    assert failed > 0  # the band check's failing branch was compared too


def test_the_one_pass_evidence_without_a_press_raises() -> None:
    arrays = TraceArrays(
        x=np.array([0.1, 0.2]),
        y=np.array([0.5, 0.5]),
        t_ms=np.array([0.0, 10.0]),
        event=np.array([1, 1], np.int8),
    )
    with pytest.raises(ValueError, match="no press"):
        phase_a_evidence(VERTICAL, arrays)
