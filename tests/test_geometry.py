"""Task geometry: the perforation curve, projections onto it and the random layouts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tcurity.geometry import (
    GRID_AREA_PX,
    TICKET_AREA_PX,
    grid_layout,
    perforation_length_px,
    perforation_polyline,
    project_onto_polyline,
    random_perforation,
)
from tcurity.traces import PerforationTask, Point2, Rect

# A vertical perforation 80 px long in a 100 × 100 px area; its band (0.1) is 8 px either side.
VERTICAL = PerforationTask(area_px=(100, 100), start=Point2(x=0.5, y=0.1), end=Point2(x=0.5, y=0.9))


# --- the perforation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area_px", "start", "end", "length"),
    [
        ((640, 260), (0.5, 0.1), (0.5, 0.9), 208.0),
        ((300, 400), (0.0, 0.0), (1.0, 1.0), 500.0),
        ((100, 100), (0.2, 0.1), (0.5, 0.5), 50.0),
        ((640, 260), (0.25, 0.5), (0.75, 0.5), 320.0),
    ],
)
def test_perforation_length(
    area_px: tuple[int, int], start: tuple[float, float], end: tuple[float, float], length: float
) -> None:
    task = PerforationTask(
        area_px=area_px, start=Point2(x=start[0], y=start[1]), end=Point2(x=end[0], y=end[1])
    )
    assert perforation_length_px(task) == pytest.approx(length, rel=1e-12)


def test_straight_polyline_runs_evenly_from_start_to_end() -> None:
    line = perforation_polyline(VERTICAL, segments=4)
    assert line == pytest.approx(
        np.array([[50.0, 10.0], [50.0, 30.0], [50.0, 50.0], [50.0, 70.0], [50.0, 90.0]])
    )


def test_bent_polyline_keeps_its_ends_and_bows_by_bend_times_length_at_the_middle() -> None:
    # Chord (30, 40) px, length 50, normal (-dy, dx) / length = (-0.8, 0.6); bend 0.2 → 10 px sideways.
    task = PerforationTask(area_px=(100, 100), start=Point2(x=0.2, y=0.1), end=Point2(x=0.5, y=0.5), bend=0.2)
    line = perforation_polyline(task)
    assert line.shape == (65, 2)
    assert line[0] == pytest.approx([20.0, 10.0])
    assert line[-1] == pytest.approx([50.0, 50.0])
    assert line[32] == pytest.approx([35.0 - 8.0, 30.0 + 6.0])


def test_negative_bend_bows_the_other_way() -> None:
    task = VERTICAL.model_copy(update={"bend": -0.25})
    # Direction (0, 80): normal (-1, 0), so a negative bend moves the middle to +x by 0.25 × 80 px.
    assert perforation_polyline(task)[32] == pytest.approx([70.0, 50.0])


def test_projection_onto_a_horizontal_line() -> None:
    line = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    px = np.array([2.0, 7.0, 10.0, 13.0, 5.0])
    py = np.array([3.0, -1.0, 0.0, 4.0, 0.0])
    s, offset = project_onto_polyline(line, px, py)
    assert s == pytest.approx([0.2, 0.7, 1.0, 1.0, 0.5])
    # Normal of direction (1, 0) is (0, 1): +y is positive.
    assert offset == pytest.approx([3.0, -1.0, 0.0, 5.0, 0.0])


def test_projection_onto_a_vertical_line_uses_the_normal_minus_dy_dx() -> None:
    line = np.array([[0.0, 0.0], [0.0, 10.0]])
    s, offset = project_onto_polyline(line, np.array([-2.0, 3.0]), np.array([5.0, 2.5]))
    assert s == pytest.approx([0.5, 0.25])
    assert offset == pytest.approx([2.0, -3.0])


def test_points_on_the_lines_extension_are_at_their_distance_from_the_end() -> None:
    line = np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]])
    s, offset = project_onto_polyline(line, np.array([-3.0, 12.0, 110.0]), np.array([0.0, 0.0, 0.0]))
    assert s == pytest.approx([0.0, 1.0, 1.0])
    assert np.abs(offset) == pytest.approx([3.0, 2.0, 100.0])


# --- random layouts -----------------------------------------------------------------------------------------


def test_random_perforation_stays_in_its_documented_ranges() -> None:
    w, h = TICKET_AREA_PX
    for seed in range(200):
        task = random_perforation(np.random.default_rng(seed))
        assert task.area_px == TICKET_AREA_PX
        assert 0.55 <= task.start.x <= 0.8
        assert 0.06 <= task.start.y <= 0.12
        assert 0.88 <= task.end.y <= 0.94
        assert -0.04 <= task.bend <= 0.04
        assert task.band == 0.1
        tilt_deg = math.degrees(
            math.atan2(abs(task.end.x - task.start.x) * w, (task.end.y - task.start.y) * h)
        )
        assert tilt_deg <= 4.0 + 1e-9


def test_random_perforation_is_deterministic_per_seed() -> None:
    first = random_perforation(np.random.default_rng(7))
    assert random_perforation(np.random.default_rng(7)) == first
    assert random_perforation(np.random.default_rng(8)) != first


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _inside_area(r: Rect) -> bool:
    return r.x >= 0.0 and r.y >= 0.0 and r.x + r.w <= 1.0 and r.y + r.h <= 1.0


@pytest.mark.parametrize("n_slots", range(1, 10))
def test_grid_layout_cells_and_slots(n_slots: int) -> None:
    grid = grid_layout(n_slots)
    w, h = GRID_AREA_PX
    assert len(grid.cells) == 9
    assert len(grid.slots) == n_slots
    for a, b in itertools.combinations(grid.cells, 2):
        assert not _overlap(a, b)
    for a, b in itertools.combinations(grid.slots, 2):
        assert not _overlap(a, b)
    grid_bottom = max(c.y + c.h for c in grid.cells)
    for rect in [*grid.cells, *grid.slots]:
        assert _inside_area(rect)
        assert rect.w * w == pytest.approx(rect.h * h)  # square in pixels
    for slot in grid.slots:
        assert slot.y > grid_bottom
    # Slots run left to right.
    assert [s.x for s in grid.slots] == sorted(s.x for s in grid.slots)


def test_grid_layout_cells_are_numbered_row_by_row() -> None:
    grid = grid_layout(3)
    cell_px = (420 - 2 * 12 - 2 * 8) / 3
    assert grid.cells[0].x == pytest.approx(12 / 420)
    assert grid.cells[0].y == pytest.approx(12 / 560)
    assert grid.cells[1].x == pytest.approx((12 + cell_px + 8) / 420)
    assert grid.cells[1].y == grid.cells[0].y
    assert grid.cells[3].y == pytest.approx((12 + cell_px + 8) / 560)
    assert grid.cells[3].x == grid.cells[0].x


@pytest.mark.parametrize("n_slots", [0, 10, -1])
def test_grid_layout_refuses_bad_slot_counts(n_slots: int) -> None:
    with pytest.raises(ValueError, match=r"n_slots must be in 1\.\.9"):
        grid_layout(n_slots)
