"""Human answers to the Phase B grid composed from one session's strokes: choice, order, mapping and timing."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.data.adapter import GridComposition, SessionStrokes, press_hold_ms, to_grid
from tcurity.data.balabit import Stroke, StrokeKind
from tcurity.features.phase_b import answer_segments
from tcurity.geometry import grid_layout
from tcurity.sampling import Path2
from tcurity.task_checks import answer_shape_ok
from tcurity.traces import Event, make_trace

GRID = grid_layout(2)  # 420 × 560 px, cells about 127 px


def stroke(n: int, kind: StrokeKind, chord_px: float, pause_ms: float = 0.0, samples: int = 6) -> Stroke:
    """A straight stroke along x sampled like the recordings (~110 ms apart), starting late on its clock."""
    t = 5_000.0 + np.arange(samples) * 110.0
    x = 300.0 + chord_px * (1.0 - (1.0 - np.linspace(0.0, 1.0, samples)) ** 2)
    return Stroke(f"u-s-{n:05d}", "u", "s", kind, Path2(t, x, np.full(samples, 200.0)), pause_ms)


def test_take_prefers_a_fitting_drag_then_fitting_points_in_recording_order() -> None:
    pool = SessionStrokes([stroke(0, "point", 100.0), stroke(1, "point", 200.0), stroke(2, "drag", 210.0)])
    assert pool.take(200.0, drag=True, max_scale_ratio=1.5).stroke_id == "u-s-00002"
    assert pool.take(200.0, drag=True, max_scale_ratio=1.5).stroke_id == "u-s-00001"  # no drag left
    assert pool.take(140.0, drag=False, max_scale_ratio=1.5).stroke_id == "u-s-00000"
    assert len(pool) == 0
    with pytest.raises(LookupError):
        pool.take(100.0, drag=False, max_scale_ratio=1.5)


def test_take_skips_strokes_that_do_not_fit_and_falls_back_to_the_closest() -> None:
    pool = SessionStrokes([stroke(0, "point", 400.0), stroke(1, "point", 150.0), stroke(2, "point", 300.0)])
    # 150 px fits within a ratio of 1.5; the earlier 400 px stroke does not.
    assert pool.take(150.0, drag=False, max_scale_ratio=1.5).stroke_id == "u-s-00001"
    # Nothing within 1.5 of 40 px: the closest in length (300 px) rather than the first (400 px).
    assert pool.take(40.0, drag=False, max_scale_ratio=1.5).stroke_id == "u-s-00002"
    # Drags never serve as approaches.
    drags_only = SessionStrokes([stroke(3, "drag", 150.0)])
    with pytest.raises(LookupError):
        drags_only.take(150.0, drag=False, max_scale_ratio=1.5)


def session(count: int) -> SessionStrokes:
    rng = np.random.default_rng(7)
    return SessionStrokes(
        [
            stroke(
                i, "drag" if i % 5 == 4 else "point", float(rng.uniform(130, 450)), pause_ms=800.0 * (i % 7)
            )
            for i in range(count)
        ]
    )


def test_to_grid_answers_every_move_with_one_press_from_its_cell_into_its_slot() -> None:
    pool = session(30)
    moves = [(2, 0), (6, 1)]
    arrays = to_grid(pool, GRID, moves, np.random.default_rng(0), GridComposition(target_spread=0.5))
    make_trace(arrays, GRID)  # a valid trace
    assert len(pool) == 30 - 4  # two strokes per move, consumed
    spans = arrays.press_spans()
    assert len(spans) == 2
    assert answer_shape_ok(GRID, arrays)
    w, h = GRID.area_px
    for (down, up), (cell, slot) in zip(spans, moves, strict=True):
        c, s = GRID.cells[cell], GRID.slots[slot]
        # Within a quarter of the side of the centre (spread 0.5 of half the side).
        assert abs(arrays.x[down] - c.centre[0]) * w <= c.w * w / 4 + 1e-9
        assert abs(arrays.y[down] - c.centre[1]) * h <= c.h * h / 4 + 1e-9
        assert abs(arrays.x[up] - s.centre[0]) * w <= s.w * w / 4 + 1e-9
        assert abs(arrays.y[up] - s.centre[1]) * h <= s.h * h / 4 + 1e-9
    assert arrays.t_ms[0] == 0.0
    assert arrays.event[0] == Event.MOVE


def test_to_grid_keeps_each_strokes_timing_and_the_persons_capped_rest() -> None:
    # Approach, drag, approach (rest 5 s before it, capped to 2 s), drag; 6 samples, 550 ms each.
    pool = SessionStrokes(
        [
            stroke(0, "point", 300.0, pause_ms=9_000.0),
            stroke(1, "drag", 300.0),
            stroke(2, "point", 300.0, pause_ms=5_000.0),
            stroke(3, "drag", 300.0),
        ]
    )
    arrays = to_grid(
        pool,
        GRID,
        [(0, 0), (8, 1)],
        np.random.default_rng(1),
        GridComposition(max_pause_ms=2_000.0, max_scale_ratio=10.0),
    )
    (d0, u0), (d1, u1) = arrays.press_spans()
    t = arrays.t_ms
    assert t[d0] == 550.0  # the first approach starts at 0 ms; its rest before does not count
    assert t[u0] - t[d0] == 550.0
    seg = answer_segments(GRID, arrays)
    assert t[seg.approach_starts[1]] - t[u0] == 2_000.0
    assert t[d1] - t[seg.approach_starts[1]] == 550.0
    assert t[u1] - t[d1] == 550.0
    assert u1 == len(arrays) - 1
    # The drag's first recorded point is the press itself: no duplicate event.
    assert t[d0 + 1] > t[d0]


def test_to_grid_maps_the_stroke_shape_by_similarity() -> None:
    pool = SessionStrokes([stroke(0, "point", 300.0), stroke(1, "drag", 300.0)])
    arrays = to_grid(pool, GRID, [(4, 0)], np.random.default_rng(2))
    down, up = arrays.press_spans()[0]
    x_px, y_px = arrays.in_pixels(GRID.area_px)
    # An eased straight stroke stays straight: every drag point lies on the press→release chord.
    chord = np.array([x_px[up] - x_px[down], y_px[up] - y_px[down]])
    rel = np.stack([x_px[down : up + 1] - x_px[down], y_px[down : up + 1] - y_px[down]], axis=1)
    assert np.abs(rel @ np.array([-chord[1], chord[0]])) / np.hypot(*chord) == pytest.approx(0.0, abs=1e-9)
    # Progress along it follows the source's ease-out: the share covered after the first sample is 1 - 0.8².
    along = rel @ chord / (chord @ chord)
    assert along[1] == pytest.approx(1.0 - 0.8**2)


def test_to_grid_raises_when_the_session_runs_dry() -> None:
    pool = SessionStrokes([stroke(0, "point", 300.0)])
    with pytest.raises(LookupError):
        to_grid(pool, GRID, [(0, 0)], np.random.default_rng(3))


def test_press_hold_is_the_time_to_move_off_interpolated_between_events() -> None:
    # Still for 100 ms, then 2 px, then 12 px: 5 px away a third of the way from 200 to 300 ms.
    drag = Path2(np.array([0.0, 100.0, 200.0, 300.0]), np.array([0.0, 0.0, 2.0, 11.0]), np.zeros(4))
    assert press_hold_ms(drag) == pytest.approx(200.0 + 100.0 / 3.0)
    # The same movement recorded densely gives about the same hold; a drag that never leaves holds throughout.
    t = np.arange(0.0, 301.0, 10.0)
    dense = Path2(t, np.interp(t, drag.t_ms, drag.x), np.zeros_like(t))
    assert press_hold_ms(dense) == pytest.approx(press_hold_ms(drag))
    assert press_hold_ms(Path2(np.array([0.0, 50.0]), np.array([0.0, 1.0]), np.zeros(2))) == 50.0


def test_a_pointing_stroke_standing_in_for_a_drag_starts_after_the_persons_hold() -> None:
    pool = SessionStrokes([stroke(0, "point", 300.0), stroke(1, "point", 300.0)], press_holds_ms=[140.0])
    arrays = to_grid(pool, GRID, [(4, 0)], np.random.default_rng(4), GridComposition(max_scale_ratio=10.0))
    down, up = arrays.press_spans()[0]
    # The pointer stays on the press point for the hold, then the stroke runs its 550 ms.
    assert arrays.t_ms[down + 1] - arrays.t_ms[down] == pytest.approx(140.0)
    assert (arrays.x[down + 1], arrays.y[down + 1]) == pytest.approx((arrays.x[down], arrays.y[down]))
    assert arrays.t_ms[up] - arrays.t_ms[down] == pytest.approx(140.0 + 550.0)
