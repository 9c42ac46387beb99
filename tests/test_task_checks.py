"""The task checks: the follow check, the Phase B answer checks, and the vectors the SDK's copy shares."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tcurity.config import PROJECT_ROOT
from tcurity.geometry import grid_layout, perforation_polyline
from tcurity.simulate.compose import phase_b_trace
from tcurity.task_checks import (
    FOLLOW_REASONS,
    REASONS,
    answer_shape_ok,
    check_follow,
    drags_on_tiles,
    tiles_in_order,
)
from tcurity.traces import Event, PerforationTask, Point2, TraceArrays

# A vertical perforation 80 px long in a 100 × 100 px area; its band (0.1) is 8 px either side.
VERTICAL = PerforationTask(area_px=(100, 100), start=Point2(x=0.5, y=0.1), end=Point2(x=0.5, y=0.9))
VECTORS = PROJECT_ROOT / "tests/fixtures/task_checks/follow.json"


def press(x: list[float], y: list[float]) -> TraceArrays:
    """One press through the given task-normalised points, 100 ms apart."""
    n = len(x)
    event = np.full(n, Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    return TraceArrays(np.array(x), np.array(y), np.arange(n) * 100.0, event)


# --- the follow check ---------------------------------------------------------------------------------------


def test_a_straight_tear_passes() -> None:
    check = check_follow(VERTICAL, press([0.5] * 9, [0.1 + 0.1 * i for i in range(9)]))
    assert check.passed
    assert check.reason is None
    assert check.coverage == pytest.approx(1.0)
    assert check.inside_share == 1.0
    assert check.max_offset == pytest.approx(0.0, abs=1e-12)
    assert check.start_offset == pytest.approx(0.0, abs=1e-12)


def test_a_tear_starting_halfway_is_off_start() -> None:
    # Starts 30 px (0.375 lengths) below the start: more than three band widths (0.3).
    check = check_follow(VERTICAL, press([0.5] * 6, [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    assert check.reason == "off_start"
    assert not check.passed
    assert check.start_offset == pytest.approx(0.375)


def test_a_tear_stopping_halfway_has_low_coverage() -> None:
    check = check_follow(VERTICAL, press([0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]))
    assert check.reason == "low_coverage"
    assert check.coverage == pytest.approx(0.5)
    assert check.inside_share == 1.0


def test_a_tear_leaving_the_band_is_off_band() -> None:
    # Two of ten points are 20 px (0.25 lengths) to the side: 80 % inside, below the 90 % needed.
    x = [0.5, 0.5, 0.5, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5]
    y = [0.1 + 0.8 * i / 9 for i in range(10)]
    check = check_follow(VERTICAL, press(x, y))
    assert check.reason == "off_band"
    assert check.coverage == pytest.approx(1.0)
    assert check.inside_share == pytest.approx(0.8)
    assert check.max_offset == pytest.approx(0.25)


def test_a_trace_without_a_press_fails_with_no_press() -> None:
    moves = TraceArrays(np.full(3, 0.5), np.array([0.1, 0.5, 0.9]), np.arange(3.0), np.ones(3, np.int8))
    check = check_follow(VERTICAL, moves)
    assert (check.passed, check.reason, check.coverage, check.inside_share) == (False, "no_press", 0.0, 0.0)
    assert math.isinf(check.max_offset)


def test_only_the_first_press_is_checked() -> None:
    y = [0.1 + 0.1 * i for i in range(9)]
    first = press([0.5] * 9, y)
    # A second press far from the line, after the first one.
    event = np.concatenate([first.event, [Event.DOWN, Event.UP]]).astype(np.int8)
    trace = TraceArrays(
        np.concatenate([first.x, [0.0, 0.0]]),
        np.concatenate([first.y, [0.0, 0.0]]),
        np.arange(11) * 100.0,
        event,
    )
    assert check_follow(VERTICAL, trace).passed


def test_a_tear_along_a_bent_perforation_passes() -> None:
    task = VERTICAL.model_copy(update={"bend": 0.2})
    line = perforation_polyline(task, segments=16)
    check = check_follow(task, press((line[:, 0] / 100).tolist(), (line[:, 1] / 100).tolist()))
    assert check.passed
    assert check.max_offset == pytest.approx(0.0, abs=1e-9)


# --- the Phase B answer checks ---------------------------------------------------------------------------


def test_drags_must_start_on_the_named_tiles() -> None:
    moves = [(0, 0), (4, 1), (8, 2)]
    arrays = phase_b_trace(grid_layout(3), moves, "windmouse", np.random.default_rng(0))
    assert drags_on_tiles(grid_layout(3), arrays, [0, 4, 8])
    assert not drags_on_tiles(grid_layout(3), arrays, [0, 4, 7])  # the third drag started on another tile
    assert not drags_on_tiles(grid_layout(3), arrays, [4, 0, 8])  # the right tiles, named in another order
    assert not drags_on_tiles(grid_layout(3), arrays, [0, 4])  # a tile short
    assert not drags_on_tiles(grid_layout(3), arrays, [0, 4, 9])  # no such cell
    two = phase_b_trace(grid_layout(3), moves[:2], "windmouse", np.random.default_rng(0))
    assert not drags_on_tiles(grid_layout(3), two, [0, 4, 8])  # a drag short


def test_the_shape_check_needs_one_drag_from_a_cell_into_each_slot_in_turn() -> None:
    moves = [(0, 0), (4, 1), (8, 2)]
    arrays = phase_b_trace(grid_layout(3), moves, "windmouse", np.random.default_rng(0))
    assert answer_shape_ok(grid_layout(3), arrays)
    swapped = phase_b_trace(grid_layout(3), [(0, 1), (4, 0), (8, 2)], "windmouse", np.random.default_rng(0))
    assert not answer_shape_ok(grid_layout(3), swapped)  # the first drag ends in slot 2
    assert not answer_shape_ok(grid_layout(4), arrays)  # three drags for four slots


def test_the_tiles_must_be_the_answer_in_order() -> None:
    assert tiles_in_order(["b", "a", "c"], ["b", "a", "c"])
    assert not tiles_in_order(["b", "a", "c"], ["a", "b", "c"])
    assert not tiles_in_order(["b", "a", "c"], ["b", "a"])
    assert not tiles_in_order(["b", "a"], ["b", "a", "c"])
    assert not tiles_in_order(["ab", "c"], ["a", "bc"])


# --- reason codes -------------------------------------------------------------------------------------------


def test_a_failed_tear_is_coded_geometry_and_its_reason() -> None:
    check = check_follow(VERTICAL, press([0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]))
    assert check.code == "geometry_low_coverage"
    assert check_follow(VERTICAL, press([0.5] * 9, [0.1 + 0.1 * i for i in range(9)])).code is None


def test_every_follow_reason_has_a_documented_code() -> None:
    assert set(FOLLOW_REASONS) == {"no_press", "off_start", "low_coverage", "off_band"}
    assert {f"geometry_{r}" for r in FOLLOW_REASONS} <= set(REASONS)


# --- the vectors shared with the SDK ------------------------------------------------------------------------


def vector_cases() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return cases


@pytest.mark.parametrize("case", vector_cases(), ids=lambda c: str(c["name"]))
def test_the_follow_check_gives_each_shared_vector_its_verdict(case: dict[str, object]) -> None:
    task = PerforationTask.model_validate(case["task"])
    x, y = case["x"], case["y"]
    assert isinstance(x, list) and isinstance(y, list)
    check = check_follow(task, press(x, y))
    expect = case["expect"]
    assert isinstance(expect, dict)
    assert (check.passed, check.reason) == (expect["passed"], expect["reason"])
    assert check.coverage == pytest.approx(expect["coverage"], abs=1e-8)
    assert check.inside_share == pytest.approx(expect["inside_share"], abs=1e-8)


def test_the_shared_vectors_reach_every_verdict() -> None:
    verdicts = {c["expect"]["reason"] for c in vector_cases()}  # type: ignore[index]
    assert verdicts == {None, "off_start", "low_coverage", "off_band"}
