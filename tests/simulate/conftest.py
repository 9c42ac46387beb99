"""Shared fixtures of the simulator tests: a human-like stroke for the replay family."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tcurity.sampling import Path2

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
