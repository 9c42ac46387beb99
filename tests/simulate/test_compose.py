"""Whole bot traces: every family answers Phase A and Phase B tasks with traces the schema accepts."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.geometry import grid_layout, random_perforation
from tcurity.sampling import Path2
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import (
    APPROACH_CHORD_PX,
    approach_origin,
    follow_perforation,
    phase_a_trace,
    phase_b_trace,
)
from tcurity.simulate.motion import SCRIPTED_WAITS
from tcurity.task_checks import check_follow
from tcurity.traces import Event, PerforationTask, Point2, TraceArrays, make_trace

from .conftest import fitted_models, make_human_stroke

GRID = grid_layout(3)
GRID_MOVES = [(0, 0), (4, 1), (8, 2)]
NAIVE_STRAIGHT = ("teleport", "linear_steps", "function_linear")


def _sources(name: str, count: int, seed: int) -> list[Path2] | None:
    if not FAMILIES[name].needs_source:
        return None
    return [make_human_stroke(np.random.default_rng(seed * 100 + i)) for i in range(count)]


def _phase_a(name: str, task: PerforationTask, seed: int) -> TraceArrays:
    sources = _sources(name, 1, seed)
    source = sources[0] if sources else None
    return phase_a_trace(
        task, name, np.random.default_rng(seed), source=source, model=fitted_models().get(name)
    )


def _phase_b(name: str, seed: int) -> TraceArrays:
    return phase_b_trace(
        GRID,
        GRID_MOVES,
        name,
        np.random.default_rng(seed),
        sources=_sources(name, 6, seed),
        model=fitted_models().get(name),
    )


def _same(a: TraceArrays, b: TraceArrays) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("x", "y", "t_ms", "event")
    )


@pytest.mark.parametrize("name", list(FAMILIES))
def test_phase_a_traces_are_valid_and_press_from_start_to_end(name: str) -> None:
    rng = np.random.default_rng(42)
    for seed in range(5):
        task = random_perforation(rng)
        arrays = _phase_a(name, task, seed)
        make_trace(arrays, task)  # raises on any schema violation
        assert arrays.event[0] == Event.MOVE  # the bot approaches before pressing
        spans = arrays.press_spans()
        assert len(spans) == 1
        down, up = spans[0]
        assert up == len(arrays) - 1
        assert (arrays.x[down], arrays.y[down]) == pytest.approx((task.start.x, task.start.y), abs=1e-9)
        assert (arrays.x[up], arrays.y[up]) == pytest.approx((task.end.x, task.end.y), abs=1e-9)
        assert (arrays.x[down - 1], arrays.y[down - 1]) == pytest.approx(
            (task.start.x, task.start.y), abs=1e-9
        )
        assert np.all(np.diff(arrays.t_ms) >= 0.0)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_phase_a_is_deterministic_per_seed(name: str) -> None:
    task = random_perforation(np.random.default_rng(0))
    assert _same(_phase_a(name, task, 1), _phase_a(name, task, 1))
    assert not _same(_phase_a(name, task, 1), _phase_a(name, task, 2))


@pytest.mark.parametrize(
    "name", [n for n, f in FAMILIES.items() if f.kind == "humanised" or n in NAIVE_STRAIGHT]
)
def test_followers_and_straight_bots_pass_the_follow_check(name: str) -> None:
    rng = np.random.default_rng(7)
    for seed in range(5):
        task = random_perforation(rng)
        assert check_follow(task, _phase_a(name, task, seed)).passed


def test_follow_perforation_bends_a_straight_tear_onto_the_curve() -> None:
    task = PerforationTask(area_px=(400, 400), start=Point2(x=0.5, y=0.1), end=Point2(x=0.5, y=0.9), bend=0.2)
    straight = Path2(
        np.array([0.0, 10.0, 20.0]), np.array([200.0, 200.0, 200.0]), np.array([40.0, 200.0, 360.0])
    )
    bent = follow_perforation(straight, task, np.random.default_rng(0))
    # chord of 320 px pointing down; the normal (-dy, dx) points to -x; the midpoint bows by bend · length.
    assert bent.x.tolist() == pytest.approx([200.0, 200.0 - 0.2 * 320.0, 200.0])
    assert bent.y.tolist() == pytest.approx([40.0, 200.0, 360.0])
    assert bent.t_ms.tolist() == [0.0, 10.0, 20.0]


def test_follow_perforation_squeezes_wide_curves_into_the_band() -> None:
    task = PerforationTask(
        area_px=(400, 400), start=Point2(x=0.5, y=0.1), end=Point2(x=0.5, y=0.9), band=0.08
    )
    s = np.linspace(0.0, 1.0, 21)
    wide = Path2(s * 100.0, 200.0 + 150.0 * np.sin(np.pi * s), 40.0 + 320.0 * s)
    followed = follow_perforation(wide, task, np.random.default_rng(0))
    assert np.max(np.abs(followed.x - 200.0)) <= 0.8 * 0.08 * 320.0 + 1e-9
    assert np.allclose(followed.y, wide.y)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_phase_b_traces_are_valid_and_drag_each_cell_to_its_slot(name: str) -> None:
    for seed in range(3):
        arrays = _phase_b(name, seed)
        make_trace(arrays, GRID)
        spans = arrays.press_spans()
        assert len(spans) == len(GRID_MOVES)
        for (down, up), (cell, slot) in zip(spans, GRID_MOVES, strict=True):
            assert (arrays.x[down], arrays.y[down]) == pytest.approx(GRID.cells[cell].centre, abs=1e-9)
            assert (arrays.x[up], arrays.y[up]) == pytest.approx(GRID.slots[slot].centre, abs=1e-9)
        assert np.all(np.diff(arrays.t_ms) >= 0.0)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_phase_b_is_deterministic_per_seed(name: str) -> None:
    assert _same(_phase_b(name, 5), _phase_b(name, 5))
    assert not _same(_phase_b(name, 5), _phase_b(name, 6))


def test_naive_scripts_pause_the_same_time_between_drags() -> None:
    arrays = phase_b_trace(GRID, GRID_MOVES, "teleport", np.random.default_rng(0))
    ups = np.flatnonzero(arrays.event == Event.UP)[:-1]
    gaps_ms = arrays.t_ms[ups + 1] - arrays.t_ms[ups]  # release → first move of the next approach
    assert np.all((gaps_ms >= 50.0) & (gaps_ms <= 300.0 + 2.0 + 6.0))
    assert np.ptp(gaps_ms) <= 2.0 + 6.0  # the script's constant sleep, timer jitter and one CDP call


@pytest.mark.parametrize("name", ["ghost_cursor", "windmouse", "teleport"])
def test_scripted_waits_replace_the_tools_own_timing_but_not_its_moves(name: str) -> None:
    own = phase_b_trace(GRID, GRID_MOVES, name, np.random.default_rng(3))
    waits = phase_b_trace(GRID, GRID_MOVES, name, np.random.default_rng(3), timing=SCRIPTED_WAITS)
    assert make_trace(waits, GRID).task == GRID
    downs = np.flatnonzero(waits.event == Event.DOWN)
    ups = np.flatnonzero(waits.event == Event.UP)
    press_waits = waits.t_ms[downs] - waits.t_ms[downs - 1]  # arrival on the tile → press
    release_waits = waits.t_ms[ups] - waits.t_ms[ups - 1]  # last move of the drag → release
    assert np.all((press_waits >= 80.0) & (press_waits <= 450.0))
    assert np.all((release_waits >= 40.0) & (release_waits <= 300.0))
    assert len(np.flatnonzero(own.event == Event.DOWN)) == len(downs) == len(GRID_MOVES)


def test_teleport_phase_a_is_one_jump_each_way() -> None:
    task = random_perforation(np.random.default_rng(0))
    arrays = phase_a_trace(task, "teleport", np.random.default_rng(0))
    assert arrays.event.tolist() == [Event.MOVE, Event.MOVE, Event.DOWN, Event.MOVE, Event.UP]


def test_replay_without_source_and_bad_moves_are_refused() -> None:
    task = random_perforation(np.random.default_rng(0))
    with pytest.raises(ValueError, match="source"):
        phase_a_trace(task, "replay", np.random.default_rng(0))
    with pytest.raises(ValueError, match="outside"):
        phase_b_trace(GRID, [(9, 0)], "teleport", np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least one"):
        phase_b_trace(GRID, [], "teleport", np.random.default_rng(0))


def test_a_bots_approach_starts_within_the_trace_bounds_at_a_peoples_distance() -> None:
    rng = np.random.default_rng(3)
    grip = (420.0, 25.0)
    origins = np.array([approach_origin(grip, (640, 260), rng) for _ in range(200)])
    distances = np.hypot(origins[:, 0] - grip[0], origins[:, 1] - grip[1])
    assert np.all((distances >= APPROACH_CHORD_PX[0]) & (distances <= APPROACH_CHORD_PX[1]))
    assert np.all((origins[:, 0] / 640 >= -1) & (origins[:, 0] / 640 <= 2))
    assert np.all((origins[:, 1] / 260 >= -1) & (origins[:, 1] / 260 <= 2))
