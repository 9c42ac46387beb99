"""Function-based synthetic trajectories of BeCAPTCHA-Mouse.

Acien, Morales, Fierrez and Vera-Rodriguez, "BeCAPTCHA-Mouse: Synthetic mouse trajectories and improved bot
detection", Pattern Recognition 127 (2022). Their function-based generator draws the path between the
initial and final points as a linear, quadratic or exponential function with random parameters, and places the
samples on it with a constant, logarithmic or Gaussian velocity profile.

Re-implemented from the paper's description. The shape functions are written in the chord's frame (distance
along the start→end line, offset across it) rather than as ``y = f(x)`` in screen axes: that is the paper's
form rotated so the chord is the x axis, and it stays well defined for the near-vertical Phase A perforation,
where ``x`` hardly changes. The velocity profile is applied to the distance travelled along the curve, sampled
at a fixed rate (60–125 Hz) with small timing jitter.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.special import ndtr

from tcurity.sampling import Path2
from tcurity.simulate.motion import (
    BotTiming,
    FloatArray,
    Point,
    distance_px,
    from_chord,
    make_path,
    pin_ends,
    resample_by_arc,
    steady_clock_ms,
)

Shape = Literal["linear", "quadratic", "exponential"]
Profile = Literal["constant", "logarithmic", "gaussian"]
PROFILES: tuple[Profile, ...] = ("constant", "logarithmic", "gaussian")

RATE_HZ = (60.0, 125.0)
JITTER_MS = 0.5
SPEED_PX_PER_MS = (0.3, 1.5)
MIN_DURATION_MS = 80.0
# Largest sideways bow of the quadratic and exponential shapes, as a fraction of the chord.
MAX_BOW = 0.2
_DENSE = 256
TIMING = BotTiming(
    press_delay_ms=(1.0, 10.0), release_delay_ms=(1.0, 10.0), pause_ms=(50.0, 300.0), fixed_pause=True
)


def shape_offset(shape: Shape, along: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Sideways offset across the chord, as a fraction of its length, at fractions ``along`` of it.

    Every shape is 0 at both ends (the path passes through the start and end points). The quadratic is the
    parabola ``4a·u(1-u)``; the exponential is ``a·(e^{ku}-1)/(e^k-1) - a·u`` normalised to peak at ``|a|``,
    a lopsided bow whose skew direction follows the sign of ``k``.
    """
    if shape == "linear":
        return np.zeros_like(along)
    bow = rng.uniform(0.02, MAX_BOW) * rng.choice([-1.0, 1.0])
    if shape == "quadratic":
        return np.asarray(bow * 4.0 * along * (1.0 - along), dtype=np.float64)
    k = rng.uniform(1.0, 5.0) * rng.choice([-1.0, 1.0])
    raw = np.expm1(k * along) / math.expm1(k) - along
    return np.asarray(bow * raw / np.max(np.abs(raw)), dtype=np.float64)


def constant_profile(tau: FloatArray) -> FloatArray:
    """Share of the distance covered at normalised time ``tau`` for constant speed."""
    return np.asarray(tau, dtype=np.float64)


def logarithmic_profile(tau: FloatArray, sharpness: float) -> FloatArray:
    """Share of the distance covered for a logarithmic position curve: fast start, steadily slowing.

    ``log(1 + c·τ) / log(1 + c)``; speed falls as ``1 / (1 + c·τ)``, so a larger ``sharpness`` ``c`` brakes
    harder.
    """
    return np.asarray(np.log1p(sharpness * tau) / math.log1p(sharpness), dtype=np.float64)


def gaussian_profile(tau: FloatArray, centre: float, width: float) -> FloatArray:
    """Share of the distance covered when speed is a Gaussian bump of time (the normalised normal CDF)."""
    low, high = ndtr(-centre / width), ndtr((1.0 - centre) / width)
    return np.asarray((ndtr((tau - centre) / width) - low) / (high - low), dtype=np.float64)


def velocity_profile(profile: Profile, tau: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Share of the distance covered at normalised times ``tau`` for a profile with random parameters."""
    if profile == "constant":
        return constant_profile(tau)
    if profile == "logarithmic":
        return logarithmic_profile(tau, rng.uniform(5.0, 50.0))
    return gaussian_profile(tau, rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.25))


def function_path(
    shape: Shape, profile: Profile, start_px: Point, end_px: Point, rng: np.random.Generator
) -> Path2:
    """One BeCAPTCHA function-based movement with the given path shape and velocity profile."""
    along = np.linspace(0.0, 1.0, _DENSE)
    length = distance_px(start_px, end_px)
    curve = from_chord(start_px, end_px, along, shape_offset(shape, along, rng) * length)
    duration_ms = max(MIN_DURATION_MS, length / rng.uniform(*SPEED_PX_PER_MS))
    t_ms = steady_clock_ms(duration_ms, rng.uniform(*RATE_HZ), JITTER_MS, rng)
    covered = velocity_profile(profile, t_ms / duration_ms, rng)
    return make_path(t_ms, pin_ends(resample_by_arc(curve, covered), start_px, end_px))


def _random_profile(rng: np.random.Generator) -> Profile:
    return PROFILES[int(rng.integers(len(PROFILES)))]


def function_linear(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """BeCAPTCHA linear function: a straight path with a random velocity profile."""
    return function_path("linear", _random_profile(rng), start_px, end_px, rng)


def function_quadratic(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """BeCAPTCHA quadratic function: a parabolic bow with a random velocity profile."""
    return function_path("quadratic", _random_profile(rng), start_px, end_px, rng)


def function_exponential(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """BeCAPTCHA exponential function: a lopsided exponential bow with a random velocity profile."""
    return function_path("exponential", _random_profile(rng), start_px, end_px, rng)
