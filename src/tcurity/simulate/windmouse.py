"""WindMouse: Benjamin J. Land's mouse-movement algorithm, widely ported to Python for game and web bots.

The cursor is a particle pulled towards the target by a constant *gravity* force and pushed around by a random
*wind* whose magnitude decays smoothly (each step it keeps 1/√3 of itself and gains a uniform kick scaled by
1/√5). Its speed is capped at a maximum step, and a capped step is redrawn uniformly between half the cap and
the cap. Within a damping distance of the target the wind stops gaining kicks and the cap shrinks by 1/√5 per
step (re-drawn between 3 and 6 px once it falls under 3), so the cursor slows and settles. The loop ends once
the cursor is within 1 px, and a last move snaps it onto the target.

Each step is one move event followed by a sleep that grows with the step's length, between a minimum and a
maximum wait (as Land's original and the common Python ports do), plus the sleep call's own overshoot.
Re-implemented from Land's public description of the algorithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import BotTiming, FloatArray, Point, gap_clock_ms, make_path

SQRT3 = math.sqrt(3.0)
SQRT5 = math.sqrt(5.0)
MAX_ITERATIONS = 5_000
MIN_WAIT_MS = (2.0, 5.0)
MAX_WAIT_MS = (8.0, 16.0)
SLEEP_OVERSHOOT_MS = 1.5
TIMING = BotTiming(
    press_delay_ms=(10.0, 100.0), release_delay_ms=(10.0, 100.0), pause_ms=(50.0, 300.0), fixed_pause=False
)


@dataclass(frozen=True, slots=True)
class WindParams:
    """Land's parameters: gravity, wind, maximum step and damping distance (pixels, per step)."""

    gravity: float = 9.0
    wind: float = 3.0
    max_step: float = 15.0
    damping_distance: float = 12.0


def wind_positions(
    start_px: Point, end_px: Point, rng: np.random.Generator, params: WindParams | None = None
) -> FloatArray:
    """The positions WindMouse visits from ``start_px`` until within 1 px of ``end_px`` (start included)."""
    p = params or WindParams()
    position = np.asarray(start_px, dtype=np.float64)
    target = np.asarray(end_px, dtype=np.float64)
    velocity, wind = np.zeros(2), np.zeros(2)
    max_step = p.max_step
    visited = [position.copy()]
    for _ in range(MAX_ITERATIONS):
        dist = float(np.hypot(*(target - position)))
        if dist < 1.0:
            break
        wind_mag = min(p.wind, dist)
        if dist >= p.damping_distance:
            wind = wind / SQRT3 + (2.0 * rng.random(2) - 1.0) * wind_mag / SQRT5
        else:
            wind = wind / SQRT3
            max_step = rng.random() * 3.0 + 3.0 if max_step < 3.0 else max_step / SQRT5
        velocity = velocity + wind + p.gravity * (target - position) / dist
        speed = float(np.hypot(*velocity))
        if speed > max_step:
            velocity = velocity / speed * (max_step / 2.0 + rng.random() * max_step / 2.0)
        position = position + velocity
        visited.append(position.copy())
    visited.append(target.copy())
    return np.vstack(visited)


def step_waits_ms(positions_px: FloatArray, max_step_px: float, rng: np.random.Generator) -> FloatArray:
    """The sleep after each step: ``min + (max - min) · step / max_step`` plus the sleep's own overshoot."""
    steps = np.hypot(*np.diff(positions_px, axis=0).T)
    min_wait, max_wait = rng.uniform(*MIN_WAIT_MS), rng.uniform(*MAX_WAIT_MS)
    waits = min_wait + (max_wait - min_wait) * np.minimum(steps / max_step_px, 1.0)
    return np.asarray(waits + rng.uniform(0.0, SLEEP_OVERSHOOT_MS, len(steps)), dtype=np.float64)


def windmouse(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One WindMouse movement with Land's default forces: an event per step, then a step-scaled sleep."""
    params = WindParams()
    positions = wind_positions(start_px, end_px, rng, params)
    return make_path(gap_clock_ms(step_waits_ms(positions, params.max_step, rng)), positions)
