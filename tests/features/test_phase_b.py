"""Phase B features on hand-made answers to a grid whose cells are exactly 100 px (one unit) wide.

``grid_layout(n, (340, 500))`` has 100 px cells at x, y = 12, 120, 228 px; with one slot, the slot is 80 px wide
at x 130–210, y 352–432, so its centre (170, 392) lies straight below the centre cell's (170, 170). Events sit
on the 100 ms grid and move in straight lines at constant speed, which the grid's smoothing leaves unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.datasets import TraceRecord
from tcurity.features import kinematics as km
from tcurity.features.fine import FINE_FEATURE_NAMES, fine_features
from tcurity.features.phase_b import (
    ANSWER_FEATURES,
    FEATURE_NAMES,
    FINE_MOVEMENT_FEATURES,
    MOVEMENT_FEATURES,
    answer_segments,
    feature_table,
    fine_movement_measures,
    movement_measures,
    phase_b_features,
)
from tcurity.geometry import grid_layout, random_perforation
from tcurity.sampling import Path2, browser_grid, canonical_grid, canonical_grid_segments
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import phase_b_trace
from tcurity.task_checks import answer_shape_ok
from tcurity.traces import Event, GridTask, TraceArrays, make_trace
from tests.simulate.conftest import fitted_models

AREA = (340, 500)
ONE_SLOT = grid_layout(1, AREA)
THREE_SLOTS = grid_layout(3, AREA)
CENTRE_CELL, SLOT_CENTRE = (170.0, 170.0), (170.0, 392.0)


class Answer:
    """Builds an answer's events in pixels: straight constant-speed moves, one event every ``step_ms``."""

    def __init__(self, start_px: tuple[float, float], step_ms: float = 100.0) -> None:
        self.step_ms = step_ms
        self.t, self.x, self.y, self.e = [0.0], [start_px[0]], [start_px[1]], [int(Event.MOVE)]

    def move(self, to_px: tuple[float, float], duration_ms: float, last: Event = Event.MOVE) -> Answer:
        n = round(duration_ms / self.step_ms)
        t0, x0, y0 = self.t[-1], self.x[-1], self.y[-1]
        for i in range(1, n + 1):
            self.t.append(t0 + i * self.step_ms)
            self.x.append(x0 + (to_px[0] - x0) * i / n)
            self.y.append(y0 + (to_px[1] - y0) * i / n)
            self.e.append(int(Event.MOVE))
        self.e[-1] = int(last)
        return self

    def rest(self, duration_ms: float, to_px: tuple[float, float] | None = None) -> Answer:
        """No event for ``duration_ms``, then one move event (at ``to_px``, default where it rests)."""
        x, y = to_px or (self.x[-1], self.y[-1])
        self.t.append(self.t[-1] + duration_ms)
        self.x.append(x)
        self.y.append(y)
        self.e.append(int(Event.MOVE))
        return self

    def arrays(self) -> TraceArrays:
        return TraceArrays(
            np.array(self.x) / AREA[0],
            np.array(self.y) / AREA[1],
            np.array(self.t),
            np.array(self.e, dtype=np.int8),
        )


def features(task: GridTask, arrays: TraceArrays) -> dict[str, float]:
    make_trace(arrays, task)  # every hand-made answer is a valid trace
    return dict(zip(FEATURE_NAMES, phase_b_features(task, arrays).tolist(), strict=True))


def one_target(step_ms: float = 100.0) -> TraceArrays:
    """From (170, 40) px down onto the centre cell in 1 s (1.3 cells), press; drag 2.22 cells down into the
    slot's centre in 1.2 s, release."""
    answer = Answer((170.0, 40.0), step_ms)
    answer.move(CENTRE_CELL, 1000.0, last=Event.DOWN).move(SLOT_CENTRE, 1200.0, last=Event.UP)
    return answer.arrays()


COARSE = len(FEATURE_NAMES) - 2 * 4 * len(FINE_MOVEMENT_FEATURES)


def test_feature_names_are_unique_and_complete() -> None:
    assert set(FINE_MOVEMENT_FEATURES) < set(FINE_FEATURE_NAMES)
    assert "hf_band_ratio" not in FINE_MOVEMENT_FEATURES  # rate-sensitive: never a model feature
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 12 * 4 + 10 * 4 + len(ANSWER_FEATURES) + 2 * 4 * 5
    assert FEATURE_NAMES[0] == "drag_log_duration_s_mean"
    assert FEATURE_NAMES[COARSE - len(ANSWER_FEATURES) : COARSE] == ANSWER_FEATURES
    assert FEATURE_NAMES[COARSE] == "drag_fine_peak_time_frac_mean"
    assert FEATURE_NAMES[-1] == "approach_fine_curv_mean_abs_std"


def test_one_straight_constant_speed_answer() -> None:
    f = features(ONE_SLOT, one_target())
    straight = {"path_efficiency": 1.0, "peak_speed_ratio": 1.0, "speed_cv": 0.0, "dev_max": 0.0}
    ends = {"start_speed_frac": 1.0, "end_speed_frac": 1.0, "n_speed_peaks": 1.0}
    drag = {
        "log_duration_s": math.log10(1.2),
        "log_speed": math.log10(2.22 / 1.2),
        **straight,
        **ends,
        # Grid instants 0.185 cells apart from y 1.70: the first inside the slot (y >= 3.52) is 3.55, at 1000 ms.
        "slot_overshoot": 3.92 - 3.55,
        "slot_dwell_frac": 200.0 / 1200.0,
    }
    approach = {"log_duration_s": 0.0, "log_speed": math.log10(1.3), **straight, **ends}
    expected = {f"drag_{k}_{a}": v for k, v in drag.items() for a in ("mean", "max", "min")}
    expected |= {f"approach_{k}_{a}": v for k, v in approach.items() for a in ("mean", "max", "min")}
    expected |= {name: 0.0 for name in FEATURE_NAMES if name.endswith("_std")}
    expected |= {
        "n_targets": 1.0,
        "first_press_s": 1.0,
        "idle_mean_s": 0.0,
        "idle_cv": 0.0,
        "gap_mean_s": 0.0,
        "gap_cv": 0.0,
        "hover_path_per_chord": 1.0,
        # The approach passes over the top middle cell (y 0.12–1.12) and ends on the centre one.
        "hover_cells_per_target": 2.0,
        # Two movements, the longer one slower: a perfect (two-point) correlation.
        "fitts_corr": 1.0,
    }
    assert {k: f[k] for k in expected} == pytest.approx(expected, abs=1e-9)


def test_a_dense_browser_recording_gives_the_same_coarse_features() -> None:
    sparse = phase_b_features(ONE_SLOT, one_target(100.0))
    dense = phase_b_features(ONE_SLOT, one_target(10.0))
    assert dense[:COARSE] == pytest.approx(sparse[:COARSE], abs=1e-9)


def test_fine_measures_are_those_of_each_movement_on_the_browser_grid() -> None:
    """Approach 0, drag 0, … each on its own browser grid (cell sides); aggregated drag first, then approach."""
    arrays = three_targets()
    seg = answer_segments(THREE_SLOTS, arrays)
    rows = fine_movement_measures(arrays.t_ms, seg, FINE_FEATURE_NAMES)
    for k, (first, last) in enumerate(seg.bounds()):
        path = Path2(arrays.t_ms[first : last + 1], seg.x[first : last + 1], seg.y[first : last + 1])
        assert rows[k] == pytest.approx(fine_features(browser_grid(path)))
    f = features(THREE_SLOTS, arrays)
    picked = rows[:, [FINE_FEATURE_NAMES.index(n) for n in FINE_MOVEMENT_FEATURES]]
    assert fine_movement_measures(arrays.t_ms, seg) == pytest.approx(picked)
    for kind, own in (("approach", picked[0::2]), ("drag", picked[1::2])):
        for i, name in enumerate(FINE_MOVEMENT_FEATURES):
            assert f[f"{kind}_fine_{name}_mean"] == pytest.approx(own[:, i].mean())
            assert f[f"{kind}_fine_{name}_max"] == pytest.approx(own[:, i].max())
    # Every drag is a straight move at constant speed: no bend, no hesitation.
    for name in ("curv_mean_abs", "micro_pauses"):
        assert f[f"drag_fine_{name}_max"] == pytest.approx(0.0, abs=1e-9)


def three_targets() -> TraceArrays:
    """Cells 3, 4, 5 (the middle row) into slots 0, 1, 2; rests of 700 ms and 500 ms after the releases.

    After the first release the pointer twitches (2 px, under the 5 px rest radius) at +300 ms and leaves at
    +700 ms; after the second it leaves at +500 ms with no twitch.
    """
    slots = [(r.centre[0] * AREA[0], r.centre[1] * AREA[1]) for r in THREE_SLOTS.slots]
    cells = [(62.0, 170.0), (170.0, 170.0), (278.0, 170.0)]
    answer = Answer((62.0, 40.0))
    answer.move(cells[0], 500.0, last=Event.DOWN).move(slots[0], 1000.0, last=Event.UP)
    answer.rest(300.0, (slots[0][0] + 2.0, slots[0][1])).rest(400.0, (slots[0][0] + 30.0, slots[0][1] - 30.0))
    answer.move(cells[1], 800.0, last=Event.DOWN).move(slots[1], 1000.0, last=Event.UP)
    answer.rest(500.0, (slots[1][0] + 30.0, slots[1][1] - 30.0))
    answer.move(cells[2], 800.0, last=Event.DOWN).move(slots[2], 1000.0, last=Event.UP)
    return answer.arrays()


def test_rests_between_drags_and_where_approaches_start() -> None:
    arrays = three_targets()
    seg = answer_segments(THREE_SLOTS, arrays)
    assert len(seg.downs) == len(seg.ups) == 3
    # The first approach starts with the trace; the second at the twitch (still resting), the third at the
    # first event after the release (the pointer had already left).
    assert seg.approach_starts[0] == 0
    assert seg.approach_starts[1] == seg.ups[0] + 1
    assert arrays.t_ms[seg.approach_starts[1]] - arrays.t_ms[seg.ups[0]] == 300.0
    assert seg.approach_starts[2] == seg.ups[1] + 1
    f = features(THREE_SLOTS, arrays)
    # Rests 0.3 s (up to the twitch) and 0.5 s; release-to-press gaps 0.7 + 0.8 and 0.5 + 0.8 s.
    assert f["idle_mean_s"] == pytest.approx(0.4)
    assert f["idle_cv"] == pytest.approx(0.1 / 0.4)
    assert f["gap_mean_s"] == pytest.approx(1.4)
    assert f["gap_cv"] == pytest.approx(0.1 / 1.4)
    assert f["first_press_s"] == pytest.approx(0.5)
    assert f["n_targets"] == 3.0
    assert answer_shape_ok(THREE_SLOTS, arrays)


def test_movement_measures_equal_the_kinematics_of_each_segment() -> None:
    """The vectorised measures are the per-movement kinematics of Phase A, segment by segment."""
    rng = np.random.default_rng(3)
    for family in ("windmouse", "minimum_jerk", "bezier_eased", "linear_steps"):
        arrays = phase_b_trace(THREE_SLOTS, [(2, 0), (6, 1), (4, 2)], family, rng)
        seg = answer_segments(THREE_SLOTS, arrays)
        grid = canonical_grid_segments(arrays.t_ms, seg.x, seg.y, seg.bounds())
        measures = movement_measures(grid)
        for k, (lo, hi) in enumerate(seg.bounds()):
            path = canonical_grid(Path2(arrays.t_ms[lo : hi + 1], seg.x[lo : hi + 1], seg.y[lo : hi + 1]))
            same = grid.segment(k)
            for ours, theirs in ((same.t_ms, path.t_ms), (same.x, path.x), (same.y, path.y)):
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
            v = km.speeds(path)
            peak, mean = float(np.max(v)), float(np.mean(v))
            _, across = km.chord_frame(
                path, np.array([path.x[0], path.y[0]]), np.array([path.x[-1], path.y[-1]])
            )
            expected = {
                "log_duration_s": math.log10(path.duration_ms / 1000.0),
                "log_speed": math.log10(float(np.sum(km.step_lengths(path))) / (path.duration_ms / 1000.0)),
                "path_efficiency": km.path_efficiency(path),
                "peak_speed_ratio": peak / mean,
                "speed_cv": float(np.std(v)) / mean,
                "t_peak_frac": (float(np.argmax(v)) + 0.5) / len(v),
                "start_speed_frac": v[0] / peak,
                "end_speed_frac": v[-1] / peak,
                "dev_max": float(np.max(np.abs(across))),
                "n_speed_peaks": float(km.count_peaks(v, 0.2 * peak)),
            }
            got = dict(zip(MOVEMENT_FEATURES, measures[k], strict=True))
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (family, k)


def test_a_teleporting_bot_moves_in_no_time() -> None:
    arrays = phase_b_trace(THREE_SLOTS, [(0, 0), (4, 1), (8, 2)], "teleport", np.random.default_rng(0))
    f = features(THREE_SLOTS, arrays)
    assert f["drag_log_duration_s_max"] < -1.5  # a few milliseconds
    assert f["drag_log_speed_min"] > 2.0  # hundreds of cells a second
    assert f["idle_cv"] < 0.05  # a script's constant sleep


def test_answer_shape_needs_every_drag_in_its_own_slot() -> None:
    arrays = three_targets()
    assert answer_shape_ok(THREE_SLOTS, arrays)
    swapped = TraceArrays(arrays.x.copy(), arrays.y.copy(), arrays.t_ms, arrays.event)
    ups = np.flatnonzero(arrays.event == Event.UP)
    swapped.x[ups[0]], swapped.x[ups[1]] = arrays.x[ups[1]], arrays.x[ups[0]]
    assert not answer_shape_ok(THREE_SLOTS, swapped)
    assert not answer_shape_ok(grid_layout(2, AREA), arrays)  # three drags for two slots


def test_every_bot_family_gives_finite_features() -> None:
    rng = np.random.default_rng(1)
    sources = [
        Path2(np.arange(6, dtype=np.float64) * 100.0, np.linspace(0, 200, 6), np.linspace(0, 50, 6))
        for _ in range(6)
    ]
    models = fitted_models()  # the fitted families' models, fitted on synthetic attacker strokes
    for family in FAMILIES:
        arrays = phase_b_trace(
            THREE_SLOTS, [(1, 0), (5, 1), (7, 2)], family, rng, sources=sources, model=models.get(family)
        )
        assert np.all(np.isfinite(phase_b_features(THREE_SLOTS, arrays))), family


def test_feature_table_rows_and_labels() -> None:
    record = TraceRecord("h1", "human", "human", "user7", "train", ONE_SLOT, one_target())
    table = feature_table([record], grid_ms=100.0)
    assert list(table.columns[:7]) == [
        "trace_id",
        "source",
        "family",
        "user",
        "split",
        "sampling",
        "geometry_passed",
    ]
    assert table.loc[0, "geometry_passed"]
    assert list(table.columns[7:]) == list(FEATURE_NAMES)
    perforation = TraceRecord(
        "p", "human", "human", "u", "train", random_perforation(np.random.default_rng(0)), one_target()
    )
    with pytest.raises(TypeError):
        feature_table([perforation], grid_ms=100.0)


def test_a_trace_without_a_press_is_refused() -> None:
    arrays = TraceArrays(
        np.array([0.1, 0.2]), np.array([0.1, 0.2]), np.array([0.0, 100.0]), np.array([1, 1], dtype=np.int8)
    )
    with pytest.raises(ValueError, match="no press"):
        phase_b_features(ONE_SLOT, arrays)
