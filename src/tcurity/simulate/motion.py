"""Shared kinematics for the motion families: event clocks, Bézier curves, easing, chord frames, Fitts's law.

Every family produces one pointer movement as a :class:`~tcurity.sampling.Path2` in task-area pixels whose
``t_ms`` starts at 0 and whose first and last points are exactly the requested start and end. The helpers here
keep those invariants in one place so each family module only holds its own algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcurity.sampling import Path2

Point = tuple[float, float]
FloatArray = NDArray[np.float64]
Easing = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True, slots=True)
class BotTiming:
    """The delays a tool (or the script driving it) puts around its movements, in milliseconds.

    Attributes:
        press_delay_ms: range of the wait between arriving on a target and pressing (``down``).
        release_delay_ms: range of the wait between the drag's last move and releasing (``up``).
        pause_ms: range of the wait between releasing one drag and starting the next movement (Phase B).
        fixed_pause: whether a trace draws one pause and reuses it (a script's constant ``sleep``) rather than
            drawing a new one before every movement (a tool's randomised delay).
    """

    press_delay_ms: tuple[float, float]
    release_delay_ms: tuple[float, float]
    pause_ms: tuple[float, float]
    fixed_pause: bool


# The waits a booking script puts around a tool's moves to look human (sleeps before pressing, before releasing
# and between tiles, as the red team's puppeteer script does around ghost-cursor). Training bots of every family
# get them in part, so that the Phase B model cannot lean on a tool's own instant presses alone.
SCRIPTED_WAITS = BotTiming(
    press_delay_ms=(80.0, 450.0), release_delay_ms=(40.0, 300.0), pause_ms=(200.0, 1200.0), fixed_pause=False
)


def make_path(t_ms: FloatArray, xy_px: FloatArray) -> Path2:
    """Wraps event times and ``(n, 2)`` positions into a :class:`Path2` whose clock starts at 0."""
    t = np.asarray(t_ms, dtype=np.float64)
    xy = np.asarray(xy_px, dtype=np.float64)
    return Path2(t - t[0], xy[:, 0].copy(), xy[:, 1].copy())


def pin_ends(xy_px: FloatArray, start_px: Point, end_px: Point) -> FloatArray:
    """Returns ``xy_px`` with its first and last rows set exactly to ``start_px`` and ``end_px``.

    Families compute their curves in floating point; pinning removes rounding so a press lands exactly where
    the bot aimed, as a tool dispatching the target coordinates last does.
    """
    out = np.array(xy_px, dtype=np.float64, copy=True)
    out[0] = start_px
    out[-1] = end_px
    return out


def distance_px(start_px: Point, end_px: Point) -> float:
    """Euclidean distance between two points in pixels."""
    return math.hypot(end_px[0] - start_px[0], end_px[1] - start_px[1])


def chord_frame(start_px: Point, end_px: Point) -> tuple[FloatArray, FloatArray, float]:
    """The unit direction and unit normal ``(-dy, dx)`` of the start→end chord, and its length in pixels.

    The normal follows :func:`tcurity.geometry.perforation_polyline`'s convention. A zero-length chord gets
    the downward direction so families never divide by zero.
    """
    chord = np.subtract(end_px, start_px).astype(np.float64)
    length = float(np.hypot(*chord))
    direction = chord / length if length > 1e-9 else np.array([0.0, 1.0])
    normal = np.array([-direction[1], direction[0]])
    return direction, normal, length


def from_chord(start_px: Point, end_px: Point, along: FloatArray, across_px: FloatArray) -> FloatArray:
    """Points given in the chord's frame: ``along`` in chord lengths, ``across_px`` along the normal."""
    direction, normal, length = chord_frame(start_px, end_px)
    origin = np.asarray(start_px, dtype=np.float64)
    return np.asarray(
        origin + np.outer(along * length, direction) + np.outer(across_px, normal), dtype=np.float64
    )


def bezier(control_px: FloatArray, s: FloatArray) -> FloatArray:
    """Points of the Bézier curve with control points ``control_px`` (``(k, 2)``) at parameters ``s``.

    Evaluated with Bernstein polynomials, which is exact and fast for the few control points bots use.
    """
    degree = len(control_px) - 1
    s_col = np.asarray(s, dtype=np.float64)[:, None]
    basis = [math.comb(degree, i) * s_col**i * (1.0 - s_col) ** (degree - i) for i in range(degree + 1)]
    return np.asarray(sum(b * p for b, p in zip(basis, control_px, strict=True)), dtype=np.float64)


def resample_by_arc(curve_px: FloatArray, fraction: FloatArray) -> FloatArray:
    """Points at the given fractions of a dense polyline's arc length (0 its start, 1 its end).

    Velocity profiles are defined on distance travelled, so families that apply one to a curved path place
    their events by arc length rather than by the curve's parameter.
    """
    steps = np.hypot(*np.diff(curve_px, axis=0).T)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    total = cumulative[-1]
    if total <= 0.0:
        return np.repeat(curve_px[:1], len(fraction), axis=0)
    target = np.asarray(fraction, dtype=np.float64) * total
    return np.stack([np.interp(target, cumulative, curve_px[:, k]) for k in (0, 1)], axis=1)


def steady_clock_ms(
    duration_ms: float, rate_hz: float, jitter_ms: float, rng: np.random.Generator
) -> FloatArray:
    """Event times of a fixed-rate source over ``duration_ms``: even, jittered, first 0, last exact."""
    count = max(2, round(duration_ms * rate_hz / 1000.0) + 1)
    return even_clock_ms(duration_ms, count, jitter_ms, rng)


def even_clock_ms(duration_ms: float, count: int, jitter_ms: float, rng: np.random.Generator) -> FloatArray:
    """``count`` evenly spaced event times from 0 to ``duration_ms``, the interior ones jittered.

    The Gaussian jitter is bounded to under half a period, so events never swap order.
    """
    times = np.linspace(0.0, duration_ms, max(count, 2))
    period_ms = times[1] - times[0]
    noise = np.clip(rng.normal(0.0, jitter_ms, len(times) - 2), -0.45 * period_ms, 0.45 * period_ms)
    times[1:-1] += noise
    return times


def gap_clock_ms(gaps_ms: FloatArray) -> FloatArray:
    """Event times from the gaps between successive events, starting at 0."""
    return np.concatenate([[0.0], np.cumsum(np.maximum(gaps_ms, 0.0))])


def fitts_duration_ms(distance: float, width: float, intercept_ms: float, slope_ms_per_bit: float) -> float:
    """Movement time by Fitts's law (Shannon form): ``a + b · log2(distance / width + 1)``."""
    return intercept_ms + slope_ms_per_bit * math.log2(max(distance, 0.0) / width + 1.0)


def ease_linear(t: FloatArray) -> FloatArray:
    """No easing: constant speed in curve parameter."""
    return np.asarray(t, dtype=np.float64)


def ease_out_quad(t: FloatArray) -> FloatArray:
    """Penner's easeOutQuad: fast start, slowing to the end."""
    return np.asarray(1.0 - (1.0 - t) ** 2, dtype=np.float64)


def ease_out_cubic(t: FloatArray) -> FloatArray:
    """Penner's easeOutCubic."""
    return np.asarray(1.0 - (1.0 - t) ** 3, dtype=np.float64)


def ease_in_out_quad(t: FloatArray) -> FloatArray:
    """Penner's easeInOutQuad: accelerate over the first half, decelerate over the second."""
    return np.asarray(np.where(t < 0.5, 2.0 * t**2, 1.0 - (-2.0 * t + 2.0) ** 2 / 2.0), dtype=np.float64)


def ease_in_out_cubic(t: FloatArray) -> FloatArray:
    """Penner's easeInOutCubic."""
    return np.asarray(np.where(t < 0.5, 4.0 * t**3, 1.0 - (-2.0 * t + 2.0) ** 3 / 2.0), dtype=np.float64)


def ease_in_out_sine(t: FloatArray) -> FloatArray:
    """Penner's easeInOutSine."""
    return np.asarray(-(np.cos(np.pi * t) - 1.0) / 2.0, dtype=np.float64)


EASINGS: dict[str, Easing] = {
    "linear": ease_linear,
    "easeOutQuad": ease_out_quad,
    "easeOutCubic": ease_out_cubic,
    "easeInOutQuad": ease_in_out_quad,
    "easeInOutCubic": ease_in_out_cubic,
    "easeInOutSine": ease_in_out_sine,
}


def taper(count: int) -> FloatArray:
    """A ``sin(π·τ)`` envelope over ``count`` events: 0 at both ends, 1 in the middle.

    Noise multiplied by it leaves the endpoints where the bot aimed them.
    """
    return np.asarray(np.sin(np.pi * np.linspace(0.0, 1.0, count)), dtype=np.float64)
