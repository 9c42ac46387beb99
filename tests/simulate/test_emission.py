"""Browser-rate emission: bots recorded as the SDK records a display's frames, and the old output kept."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.geometry import random_perforation
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_a_trace, phase_b_trace
from tcurity.simulate.emission import BrowserEmission
from tcurity.traces import Event, make_trace

from .conftest import fitted_models
from .test_compose import GRID, GRID_MOVES


def _thousand_hz(duration_ms: float = 1000.0) -> Path2:
    t = np.arange(0.0, duration_ms + 1.0, 1.0)
    return Path2(t, t * 0.3, t * 0.1)


@pytest.mark.parametrize(("frame_hz", "gap_ms"), [(60.0, 1000.0 / 60.0), (144.0, 1000.0 / 144.0)])
def test_a_dense_movement_comes_out_at_the_display_rate(frame_hz: float, gap_ms: float) -> None:
    emission = BrowserEmission((frame_hz,), (1.0,), frame_jitter_ms=0.5)
    out = emission.emit(
        _thousand_hz(), emission.draw_display(np.random.default_rng(0)), np.random.default_rng(1)
    )
    gaps = np.diff(out.t_ms)[1:-1]  # the first and last events are the press's, never coalesced
    assert np.median(gaps) == pytest.approx(gap_ms, abs=1.0)
    assert (out.t_ms[0], out.t_ms[-1]) == (0.0, 1000.0)


def test_phase_a_bots_tear_at_about_sixty_events_a_second() -> None:
    emission = BrowserEmission((60.0,), (1.0,))
    task = random_perforation(np.random.default_rng(2))
    for family in ("windmouse", "ghost_cursor", "minimum_jerk", "sigma_lognormal", "learned_pca"):
        arrays = phase_a_trace(
            task, family, np.random.default_rng(3), model=fitted_models().get(family), emission=emission
        )
        make_trace(arrays, task)
        down, up = arrays.press_spans()[0]
        moves = arrays.t_ms[down + 1 : up]  # the tear's moves; the last is its end point, always dispatched
        gaps = np.diff(moves[:-1])
        assert np.median(gaps) == pytest.approx(1000.0 / 60.0, abs=2.0), family
        frames = (moves[-1] - arrays.t_ms[down]) / (1000.0 / 60.0)
        assert len(moves) <= frames + 2, family  # at most one event a frame, plus the end point


def test_without_emission_the_output_is_the_tools_own() -> None:
    task = random_perforation(np.random.default_rng(2))
    before = phase_a_trace(task, "windmouse", np.random.default_rng(3))
    again = phase_a_trace(task, "windmouse", np.random.default_rng(3), emission=None)
    assert np.array_equal(before.t_ms, again.t_ms) and np.array_equal(before.x, again.x)
    emitted = phase_a_trace(task, "windmouse", np.random.default_rng(3), emission=BrowserEmission())
    assert len(emitted) < len(before)  # windmouse dispatches every few ms; a display shows one event a frame


def test_phase_b_answers_stay_valid_when_emitted() -> None:
    arrays = phase_b_trace(
        GRID, GRID_MOVES, "ghost_cursor", np.random.default_rng(0), emission=BrowserEmission()
    )
    make_trace(arrays, GRID)
    assert int(np.sum(arrays.event == Event.DOWN)) == len(GRID_MOVES)


def test_displays_are_drawn_by_their_shares() -> None:
    emission = BrowserEmission((60.0, 120.0, 144.0), (0.8, 0.1, 0.1))
    rng = np.random.default_rng(0)
    draws = np.array([emission.draw_display(rng) for _ in range(4000)])
    assert np.mean(draws == 60.0) == pytest.approx(0.8, abs=0.03)
    assert set(draws.tolist()) == {60.0, 120.0, 144.0}


@pytest.mark.parametrize(("rates", "shares"), [((), ()), ((60.0, 0.0), (0.5, 0.5)), ((60.0,), (0.5,))])
def test_bad_emission_settings_are_refused(rates: tuple[float, ...], shares: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        BrowserEmission(rates, shares)
