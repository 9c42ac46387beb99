"""ghost-cursor: the npm library that gives Puppeteer bots "human-like" mouse movements (Xetera/ghost-cursor).

Its path generator, re-implemented here from the project's public README and algorithm description:

* The path is one cubic Bézier from start to end. Each of its two inner control points is made by picking
  a random point on the start→end line, stepping off it along the line's perpendicular by up to ``spread``
  pixels (a uniform fraction of it), all on one randomly chosen side; ``spread`` is the distance clamped to
  2–200 px. The two control points are then sorted by x, a quirk of the library that is kept.
* The number of points follows Fitts's law: with ``id = log2(length / width + 1)`` (``length`` is 0.8
  times the curve's length and ``width`` 100 px for a bare coordinate), ``fitts = 2·id`` and
  ``steps = ceil((log2(fitts + 1) + 25·speed) · 3)``, where ``speed`` is uniform in [0, 1) by default. The
  curve is sampled at ``steps + 1`` evenly spaced Bézier parameters (its lookup table).
* When the target is more than 500 px away, the cursor first goes to a random point within 120 px of it
  (overshoot), then takes a second path with a spread of 10 px onto the target.
* Every point is dispatched as a CDP ``mouseMoved`` event right after the previous one returns (no sleep), so
  events are a few milliseconds apart.
"""

from __future__ import annotations

import math

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import (
    BotTiming,
    FloatArray,
    Point,
    bezier,
    distance_px,
    gap_clock_ms,
    make_path,
    pin_ends,
)

MIN_SPREAD_PX = 2.0
MAX_SPREAD_PX = 200.0
DEFAULT_WIDTH_PX = 100.0
MIN_STEPS = 25
OVERSHOOT_THRESHOLD_PX = 500.0
OVERSHOOT_RADIUS_PX = 120.0
OVERSHOOT_SPREAD_PX = 10.0
CDP_GAP_MS = (1.0, 6.0)
TIMING = BotTiming(
    press_delay_ms=(1.0, 10.0), release_delay_ms=(1.0, 10.0), pause_ms=(50.0, 300.0), fixed_pause=False
)


def control_points(start_px: Point, end_px: Point, spread_px: float, rng: np.random.Generator) -> FloatArray:
    """The cubic's four control points: start, two random anchors off the line on one side, end."""
    start, end = np.asarray(start_px, dtype=np.float64), np.asarray(end_px, dtype=np.float64)
    side = 1.0 if rng.random() < 0.5 else -1.0
    anchors = []
    for _ in range(2):
        on_line = start + (end - start) * rng.random()
        along = on_line - start
        norm = float(np.hypot(*along))
        perpendicular = np.array([along[1], -along[0]]) / norm if norm > 1e-9 else np.zeros(2)
        anchors.append(on_line + perpendicular * spread_px * side * rng.random())
    anchors.sort(key=lambda p: float(p[0]))
    return np.vstack([start, *anchors, end])


def step_count(curve_length_px: float, speed: float, width_px: float = DEFAULT_WIDTH_PX) -> int:
    """ghost-cursor's number of steps for a curve: Fitts's index of difficulty plus a speed-dependent base."""
    fitts = 2.0 * math.log2(0.8 * curve_length_px / width_px + 1.0)
    return math.ceil((math.log2(fitts + 1.0) + speed * MIN_STEPS) * 3.0)


def _curve_length_px(control: FloatArray) -> float:
    dense = bezier(control, np.linspace(0.0, 1.0, 101))
    return float(np.sum(np.hypot(*np.diff(dense, axis=0).T)))


def single_path(
    start_px: Point, end_px: Point, rng: np.random.Generator, spread_px: float | None = None
) -> FloatArray:
    """Points of one ghost-cursor path (no overshoot): the Bézier's lookup table of ``steps + 1`` points."""
    if spread_px is None:
        spread_px = min(max(distance_px(start_px, end_px), MIN_SPREAD_PX), MAX_SPREAD_PX)
    control = control_points(start_px, end_px, spread_px, rng)
    steps = step_count(_curve_length_px(control), rng.random())
    return pin_ends(bezier(control, np.linspace(0.0, 1.0, steps + 1)), start_px, end_px)


def overshoot_point(end_px: Point, rng: np.random.Generator) -> Point:
    """A point uniformly distributed in the disc of radius 120 px around the target."""
    angle = rng.uniform(0.0, 2.0 * math.pi)
    radius = OVERSHOOT_RADIUS_PX * math.sqrt(rng.random())
    return (end_px[0] + radius * math.cos(angle), end_px[1] + radius * math.sin(angle))


def ghost_cursor(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One ``cursor.moveTo``: a Bézier path (with overshoot and correction past 500 px), CDP-paced events."""
    if distance_px(start_px, end_px) > OVERSHOOT_THRESHOLD_PX:
        miss = overshoot_point(end_px, rng)
        first = single_path(start_px, miss, rng)
        points = np.vstack([first, single_path(miss, end_px, rng, OVERSHOOT_SPREAD_PX)[1:]])
    else:
        points = single_path(start_px, end_px, rng)
    t_ms = gap_clock_ms(rng.uniform(*CDP_GAP_MS, size=len(points) - 1))
    return make_path(t_ms, points)
