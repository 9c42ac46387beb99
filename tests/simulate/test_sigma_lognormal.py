"""The sigma-lognormal family: the kinematic theory's profiles by hand, the per-stroke fit, the generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.sampling import Path2
from tcurity.simulate.sigma_lognormal import (
    Components,
    SigmaLognormalModel,
    displacement,
    fit_population,
    fit_stroke,
    lognormal_speed,
    peak_time_s,
    sigma_lognormal,
    velocity,
)

from .conftest import ATTACKER, attacker_strokes


def _components(*rows: list[float]) -> Components:
    return Components.from_matrix(np.array(rows, dtype=np.float64))


def test_one_component_speed_peaks_at_the_lognormal_mode() -> None:
    # t0 = 0.1 s, mu = ln 0.2, sigma = 0.3: the mode is t0 + exp(mu - sigma²) = 0.1 + 0.2·e^-0.09 = 0.282786 s.
    t0, mu, sigma = 0.1, math.log(0.2), 0.3
    assert peak_time_s(t0, mu, sigma) == pytest.approx(0.1 + 0.2 * math.exp(-0.09), abs=1e-12)
    t = np.linspace(0.0, 1.0, 1_000_001)
    speed = lognormal_speed(t, 100.0, t0, mu, sigma)
    assert t[np.argmax(speed)] == pytest.approx(0.282786, abs=2e-6)
    assert np.all(speed[t <= t0] == 0.0)  # nothing moves before the onset


def test_two_component_speed_integrates_to_the_total_distance() -> None:
    comps = _components(
        [100.0, 0.0, math.log(0.15), 0.25, 0.0, 0.0], [200.0, 0.1, math.log(0.3), 0.35, 0.0, 0.0]
    )
    t = np.linspace(0.0, 20.0, 400_001)
    speed = lognormal_speed(t, 100.0, 0.0, math.log(0.15), 0.25) + lognormal_speed(
        t, 200.0, 0.1, math.log(0.3), 0.35
    )
    assert np.trapezoid(speed, t) == pytest.approx(300.0, rel=1e-4)
    # Both point along +x, so the closed-form displacement at the end is the same 300 px, straight.
    x, y = displacement(np.array([20.0]), comps)
    assert (x[0], y[0]) == pytest.approx((300.0, 0.0), abs=1e-6)


def test_a_turning_component_is_an_arc_of_length_d() -> None:
    # From heading 0 to heading π/2 over D = 100 px: a quarter circle of radius 200/π, ending at (r, r).
    comps = _components([100.0, 0.0, math.log(0.2), 0.3, 0.0, math.pi / 2])
    x, y = displacement(np.array([50.0]), comps)
    radius = 200.0 / math.pi
    assert (x[0], y[0]) == pytest.approx((radius, radius), abs=1e-6)
    # The closed form agrees with integrating the velocity.
    t = np.linspace(0.0, 3.0, 300_001)
    vx, vy = velocity(t, comps)
    xs, ys = displacement(t, comps)
    assert np.trapezoid(vx, t) == pytest.approx(xs[-1], abs=1e-3)
    assert np.trapezoid(vy, t) == pytest.approx(ys[-1], abs=1e-3)


def test_fit_recovers_a_two_component_stroke() -> None:
    truth = _components(
        [180.0, 0.0, math.log(0.18), 0.3, 0.1, 0.1], [40.0, 0.25, math.log(0.15), 0.3, -0.3, -0.3]
    )
    t_ms = np.arange(0.0, 900.0, 16.0)
    x, y = displacement(t_ms / 1000.0, truth)
    fit = fit_stroke(Path2(t_ms, x + 500.0, y + 200.0))
    assert fit is not None
    assert fit.snr_db > 25.0
    assert len(fit.components.d) == 2
    # d is stored in chord lengths: together the components cover about the path's length.
    assert float(np.sum(fit.components.d)) * fit.chord_px == pytest.approx(220.0, rel=0.05)


def test_fitting_refuses_strokes_of_users_outside_the_attacker_split() -> None:
    strokes = attacker_strokes(5) + attacker_strokes(1, seed=9, user="sapi_user4")
    with pytest.raises(ValueError, match="sapi_user4"):
        fit_population(strokes, {ATTACKER})


def test_population_round_trips_and_remembers_its_users(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = fit_population(attacker_strokes(12), {ATTACKER})
    assert model.meta["users"] == [ATTACKER]
    model.save(tmp_path)
    again = SigmaLognormalModel.load(tmp_path)
    assert np.array_equal(again.params, model.params) and again.meta == model.meta
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    a = sigma_lognormal(model, (10.0, 20.0), (300.0, 40.0), rng_a)
    b = sigma_lognormal(again, (10.0, 20.0), (300.0, 40.0), rng_b)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.t_ms, b.t_ms)
    assert (a.x[0], a.y[0], a.x[-1], a.y[-1]) == (10.0, 20.0, 300.0, 40.0)
