"""Shared fixtures of the simulator tests: a human-like stroke for the replay family, fitted models for the
fitted families (learned from synthetic strokes of one attacker-source user)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pytest

from tcurity.data.strokes import Stroke
from tcurity.sampling import Path2
from tcurity.simulate.fitted import BotModel, fit_bot_models

HumanStroke = Callable[[np.random.Generator], Path2]


def make_human_stroke(rng: np.random.Generator, points: int = 14) -> Path2:
    """A curved, decelerating stroke sampled like the human data (~9 Hz, 15.6 ms clock, some zero gaps)."""
    gaps_ms = rng.choice([0.0, 15.6, 93.6, 109.2, 124.8], size=points - 1, p=[0.1, 0.1, 0.3, 0.4, 0.1])
    t_ms = np.concatenate([[0.0], np.cumsum(gaps_ms)]) + 5_000.0  # recordings do not start at 0
    s = 1.0 - (1.0 - np.linspace(0.0, 1.0, points)) ** 2
    x = 200.0 + 300.0 * s + rng.normal(0.0, 1.5, points)
    y = 100.0 + 60.0 * np.sin(np.pi * s) + rng.normal(0.0, 1.5, points)
    return Path2(t_ms, x, y)


@pytest.fixture
def human_stroke() -> HumanStroke:
    """A factory of human-like strokes (pixels), one per call."""
    return make_human_stroke


ATTACKER = "sapi_user1"


def attacker_strokes(count: int, seed: int = 0, user: str = ATTACKER) -> list[Stroke]:
    """``count`` human-like strokes of ``user``, each turned to a random direction and scaled by 0.5–1.5."""
    rng = np.random.default_rng(seed)
    strokes = []
    for i in range(count):
        path = make_human_stroke(rng)
        turn = np.exp(1j * rng.uniform(-np.pi, np.pi)) * rng.uniform(0.5, 1.5)
        z = (path.x - path.x[0] + 1j * (path.y - path.y[0])) * turn
        moved = Path2(path.t_ms - path.t_ms[0], z.real + 400.0, z.imag + 300.0)
        strokes.append(Stroke(f"{user}-s-{i:05d}", user, "s", "point", moved, 0.0))
    return strokes


@lru_cache(maxsize=1)
def fitted_models() -> dict[str, BotModel]:
    """Every fitted family's model, fitted once on 40 synthetic strokes of one attacker user."""
    return fit_bot_models(attacker_strokes(40), {ATTACKER}, max_sigma_strokes=40, seed=0)


@pytest.fixture
def bot_models() -> dict[str, BotModel]:
    """:func:`fitted_models` as a fixture."""
    return fitted_models()
