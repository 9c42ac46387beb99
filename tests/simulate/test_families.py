"""Properties every motion family must have: exact ends, a clock from 0 that never runs back, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.sampling import Path2
from tcurity.simulate import FAMILIES
from tcurity.simulate.fitted import BotModel

from .conftest import HumanStroke

MOVES_PX = [
    ((100.0, 40.0), (110.0, 230.0)),  # a Phase A perforation
    ((74.0, 74.0), (300.0, 470.0)),  # a Phase B drag
    ((600.0, 20.0), (10.0, 500.0)),  # long, right to left (ghost-cursor overshoots)
    ((50.0, 50.0), (53.0, 49.0)),  # a few pixels
]


def _move(
    name: str,
    start: tuple[float, float],
    end: tuple[float, float],
    seed: int,
    stroke: HumanStroke,
    models: dict[str, BotModel],
) -> Path2:
    rng = np.random.default_rng(seed)
    source = stroke(np.random.default_rng(seed + 1000)) if FAMILIES[name].needs_source else None
    return FAMILIES[name].move(start, end, rng, source, models.get(name))


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize(("start", "end"), MOVES_PX)
def test_movement_starts_and_ends_where_asked(
    name: str,
    start: tuple[float, float],
    end: tuple[float, float],
    human_stroke: HumanStroke,
    bot_models: dict[str, BotModel],
) -> None:
    path = _move(name, start, end, seed=7, stroke=human_stroke, models=bot_models)
    assert len(path) >= 2
    assert (path.x[0], path.y[0]) == pytest.approx(start, abs=1e-9)
    assert (path.x[-1], path.y[-1]) == pytest.approx(end, abs=1e-9)


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize(("start", "end"), MOVES_PX)
def test_clock_starts_at_zero_and_never_runs_back(
    name: str,
    start: tuple[float, float],
    end: tuple[float, float],
    human_stroke: HumanStroke,
    bot_models: dict[str, BotModel],
) -> None:
    path = _move(name, start, end, seed=11, stroke=human_stroke, models=bot_models)
    assert path.t_ms[0] == 0.0
    assert np.all(np.diff(path.t_ms) >= 0.0)
    assert path.duration_ms > 0.0
    assert np.all(np.isfinite(path.x)) and np.all(np.isfinite(path.y))
    assert len(path.x) == len(path.y) == len(path.t_ms)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_same_seed_same_movement_other_seed_other_movement(
    name: str, human_stroke: HumanStroke, bot_models: dict[str, BotModel]
) -> None:
    start, end = MOVES_PX[1]
    a, b = (_move(name, start, end, seed=3, stroke=human_stroke, models=bot_models) for _ in range(2))
    c = _move(name, start, end, seed=4, stroke=human_stroke, models=bot_models)
    assert np.array_equal(a.t_ms, b.t_ms) and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    same_shape = len(a) == len(c) and np.allclose(a.t_ms, c.t_ms) and np.allclose(a.x, c.x)
    assert not same_shape


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if not f.needs_source])
def test_zero_length_move_stays_put(name: str, bot_models: dict[str, BotModel]) -> None:
    path = FAMILIES[name].move(
        (80.0, 90.0), (80.0, 90.0), np.random.default_rng(0), model=bot_models.get(name)
    )
    assert np.allclose(path.x, 80.0, atol=2.0) and np.allclose(path.y, 90.0, atol=2.0)
    assert np.all(np.diff(path.t_ms) >= 0.0)
