"""Minimum-jerk reaching: the kinematic model of Flash and Hogan (1985) driving a scripted pointer.

T. Flash and N. Hogan, "The coordination of arm movements: an experimentally confirmed mathematical model",
Journal of Neuroscience 5(7), 1985. A point-to-point movement that minimises the integrated squared jerk
has the position profile ``s(τ) = 10τ³ − 15τ⁴ + 6τ⁵`` (τ = t / T): it starts and ends at rest with zero
acceleration and its speed is a symmetric bell that peaks at mid-time at 1.875 times the mean speed. A careful
bot uses it as its "human" model:

* duration from Fitts's law, ``T = a + b·log2(D / W + 1)``, with random ``a``, ``b`` and target width, times a
  log-normal spread;
* a slight curvature: the path is the quadratic Bézier through a random via-point near the chord's middle,
  traversed with the minimum-jerk profile;
* a little tremor: smoothed Gaussian noise under a ``sin(πτ)`` envelope, so the endpoints stay exact;
* events at a browser's frame rate (60–144 Hz) with small jitter, as a page sees dispatched pointer events.
"""

from __future__ import annotations

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import (
    BotTiming,
    FloatArray,
    Point,
    bezier,
    distance_px,
    fitts_duration_ms,
    from_chord,
    make_path,
    pin_ends,
    steady_clock_ms,
    taper,
)

FRAME_RATES_HZ = (60.0, 75.0, 90.0, 120.0, 144.0)
FRAME_JITTER_MS = 0.3
FITTS_INTERCEPT_MS = (50.0, 150.0)
FITTS_SLOPE_MS_PER_BIT = (100.0, 170.0)
TARGET_WIDTH_PX = (20.0, 60.0)
DURATION_SPREAD = 0.15
MIN_DURATION_MS = 120.0
VIA_ALONG = (0.4, 0.6)
VIA_ACROSS_STD = 0.04  # sideways offset of the via-point, in chord lengths
TREMOR_STD_PX = (0.2, 0.8)
TIMING = BotTiming(
    press_delay_ms=(40.0, 200.0), release_delay_ms=(40.0, 200.0), pause_ms=(150.0, 600.0), fixed_pause=False
)


def minimum_jerk_profile(tau: FloatArray) -> FloatArray:
    """Share of the distance covered at normalised time ``tau``: ``10τ³ − 15τ⁴ + 6τ⁵``."""
    tau = np.asarray(tau, dtype=np.float64)
    return np.asarray(tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2), dtype=np.float64)


def fitts_duration(distance: float, rng: np.random.Generator) -> float:
    """A movement time from Fitts's law with random constants and a log-normal spread, in ms."""
    base_ms = fitts_duration_ms(
        distance,
        rng.uniform(*TARGET_WIDTH_PX),
        intercept_ms=rng.uniform(*FITTS_INTERCEPT_MS),
        slope_ms_per_bit=rng.uniform(*FITTS_SLOPE_MS_PER_BIT),
    )
    return float(max(MIN_DURATION_MS, base_ms * rng.lognormal(0.0, DURATION_SPREAD)))


def via_control(start_px: Point, end_px: Point, rng: np.random.Generator) -> FloatArray:
    """Control points of the quadratic Bézier that passes through a random via-point at its mid-parameter."""
    length = distance_px(start_px, end_px)
    along = np.array([rng.uniform(*VIA_ALONG)])
    via = from_chord(start_px, end_px, along, np.array([rng.normal(0.0, VIA_ACROSS_STD) * length]))[0]
    control = 2.0 * via - (np.asarray(start_px) + np.asarray(end_px)) / 2.0
    return np.vstack([start_px, control, end_px])


def tremor(count: int, rng: np.random.Generator) -> FloatArray:
    """Smoothed Gaussian jitter of shape ``(count, 2)`` that vanishes at both ends."""
    white = rng.normal(0.0, rng.uniform(*TREMOR_STD_PX), size=(count + 2, 2))
    smooth = (white[:-2] + white[1:-1] + white[2:]) / np.sqrt(3.0)
    return np.asarray(smooth * taper(count)[:, None], dtype=np.float64)


def minimum_jerk(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One minimum-jerk movement: Fitts duration, via-point curvature, tremor, frame-rate events."""
    duration_ms = fitts_duration(distance_px(start_px, end_px), rng)
    rate_hz = FRAME_RATES_HZ[int(rng.integers(len(FRAME_RATES_HZ)))]
    t_ms = steady_clock_ms(duration_ms, rate_hz, FRAME_JITTER_MS, rng)
    points = bezier(via_control(start_px, end_px, rng), minimum_jerk_profile(t_ms / duration_ms))
    return make_path(t_ms, pin_ends(points + tremor(len(t_ms), rng), start_px, end_px))
