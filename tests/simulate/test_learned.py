"""The learned generator: its stroke representation by hand, attacker-only fitting, exact ends, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tcurity.sampling import Path2
from tcurity.simulate.learned import KNOTS, LearnedModel, fit_learned, learned_pca, stroke_vector

from .conftest import ATTACKER, attacker_strokes


def test_a_straight_steady_stroke_is_the_identity_profile() -> None:
    # 300 px to the right at constant speed over 600 ms: u(τ) = τ, v(τ) = 0, log T = ln 600.
    path = Path2(np.linspace(0.0, 600.0, 7), np.linspace(100.0, 400.0, 7), np.full(7, 50.0))
    vector = stroke_vector(path)
    inner = KNOTS - 2
    assert vector[:inner] == pytest.approx(np.linspace(0.0, 1.0, KNOTS)[1:-1])
    assert vector[inner : 2 * inner] == pytest.approx(np.zeros(inner))
    assert vector[-1] == pytest.approx(math.log(600.0))


def test_fitting_refuses_strokes_of_users_outside_the_attacker_split() -> None:
    strokes = attacker_strokes(40) + attacker_strokes(1, seed=3, user="sapi_user4")
    with pytest.raises(ValueError, match="sapi_user4"):
        fit_learned(strokes, {ATTACKER})


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return fit_learned(attacker_strokes(60), {ATTACKER})


def test_the_model_names_only_its_attacker_users(model: LearnedModel) -> None:
    assert model.meta["users"] == [ATTACKER]
    assert model.meta["strokes"] == 60


@pytest.mark.parametrize(("start", "end"), [((10.0, 20.0), (300.0, 40.0)), ((500.0, 400.0), (90.0, 60.0))])
def test_strokes_start_and_end_exactly_where_asked_on_a_forward_clock(
    model: LearnedModel, start: tuple[float, float], end: tuple[float, float]
) -> None:
    for seed in range(10):
        path = learned_pca(model, start, end, np.random.default_rng(seed))
        assert (path.x[0], path.y[0]) == start
        assert (path.x[-1], path.y[-1]) == end
        assert path.t_ms[0] == 0.0
        assert np.all(np.diff(path.t_ms) > 0.0)


def test_same_seed_same_stroke(model: LearnedModel) -> None:
    a, b, c = (learned_pca(model, (0.0, 0.0), (250.0, 80.0), np.random.default_rng(s)) for s in (4, 4, 5))
    assert np.array_equal(a.t_ms, b.t_ms) and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not (len(a) == len(c) and np.allclose(a.x, c.x))


def test_model_round_trips_through_arrays_and_json(model: LearnedModel, tmp_path: Path) -> None:
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learned_pca.json", "learned_pca.npz"]
    again = LearnedModel.load(tmp_path)
    assert again.meta == model.meta
    assert np.array_equal(again.joint_cov, model.joint_cov)
    a = learned_pca(model, (0.0, 0.0), (250.0, 80.0), np.random.default_rng(1))
    b = learned_pca(again, (0.0, 0.0), (250.0, 80.0), np.random.default_rng(1))
    assert np.array_equal(a.x, b.x)
