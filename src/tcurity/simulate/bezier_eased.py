"""Eased Bézier curves: the pyclick / HumanCursor family of "human-like" Python mouse movers.

pyclick's ``HumanCurve`` (and HumanCursor, which builds on the same idea with randomised settings) draws a
Bézier curve through random internal knots placed in a box around the start and end points (the box grows by
an offset boundary on every side), distorts the curve's points with small Gaussian offsets on the y axis, then
picks a fixed number of target points by an easing function (``easeOutQuad`` by default) that maps the event
index to a position on the curve, and moves there one point at a time with an equal sleep between moves
(pyautogui's pause, i.e. the movement's duration divided by the point count).

Re-implemented from the projects' public descriptions. The index lookup of the tween is kept, so slow eased
parts repeat a position on consecutive events, as the tools do.
"""

from __future__ import annotations

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import (
    EASINGS,
    BotTiming,
    FloatArray,
    Point,
    bezier,
    even_clock_ms,
    make_path,
    pin_ends,
)

OFFSET_BOUNDARY_PX = (20.0, 100.0)
KNOTS = (1, 3)
DISTORTION_MEAN_PX = (0.8, 1.1)
DISTORTION_STD_PX = (0.85, 1.1)
DISTORTION_FREQUENCY = (0.25, 0.7)
TARGET_POINTS = (35, 80)
DURATION_MS = (300.0, 1200.0)
# pyautogui / ActionChains call overhead on top of the programmed equal sleep.
OVERHEAD_JITTER_MS = 1.0
TWEENS = ("easeOutQuad", "easeOutCubic", "easeInOutQuad", "easeInOutCubic", "easeInOutSine", "linear")
TIMING = BotTiming(
    press_delay_ms=(50.0, 150.0), release_delay_ms=(50.0, 150.0), pause_ms=(100.0, 400.0), fixed_pause=False
)


def internal_knots(start_px: Point, end_px: Point, rng: np.random.Generator) -> FloatArray:
    """Random knots inside the start/end bounding box widened by a random offset boundary on every side."""
    offset = rng.uniform(*OFFSET_BOUNDARY_PX)
    low = np.minimum(start_px, end_px) - offset
    high = np.maximum(start_px, end_px) + offset
    count = int(rng.integers(KNOTS[0], KNOTS[1] + 1))
    return np.asarray(rng.uniform(low, high, size=(count, 2)), dtype=np.float64)


def distort(points_px: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Adds ``N(mean, std)`` pixels to the y of a random share of the interior points (the distortion)."""
    out = points_px.copy()
    interior = len(out) - 2
    if interior <= 0:
        return out
    hit = rng.random(interior) < rng.uniform(*DISTORTION_FREQUENCY)
    delta = rng.normal(rng.uniform(*DISTORTION_MEAN_PX), rng.uniform(*DISTORTION_STD_PX), interior)
    out[1:-1, 1] += np.where(hit, delta, 0.0)
    return out


def tween(points_px: FloatArray, easing_name: str, target_points: int) -> FloatArray:
    """Picks ``target_points`` of the curve by index ``int(ease(i / (n - 1)) · (len - 1))`` (the tween)."""
    progress = EASINGS[easing_name](np.linspace(0.0, 1.0, target_points))
    index = (progress * (len(points_px) - 1)).astype(int)
    return points_px[np.clip(index, 0, len(points_px) - 1)]


def bezier_eased(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One pyclick / HumanCursor movement: knotted Bézier, y distortion, eased tween, equal sleeps."""
    control = np.vstack([start_px, internal_knots(start_px, end_px, rng), end_px])
    dense_count = max(int(np.max(np.abs(np.subtract(end_px, start_px)))), 2)
    curve = distort(bezier(control, np.linspace(0.0, 1.0, dense_count)), rng)
    target_points = int(rng.integers(TARGET_POINTS[0], TARGET_POINTS[1] + 1))
    easing_name = TWEENS[int(rng.integers(len(TWEENS)))]
    points = tween(curve, easing_name, target_points)
    duration_ms = rng.uniform(*DURATION_MS)
    t_ms = even_clock_ms(duration_ms, target_points, OVERHEAD_JITTER_MS, rng)
    return make_path(t_ms, pin_ends(points, start_px, end_px))
