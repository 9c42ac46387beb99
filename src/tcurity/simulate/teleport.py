"""Teleport: Playwright's default ``page.mouse.move(x, y)`` (``steps=1``), the most naive bot movement.

Playwright's ``Mouse.move`` without ``steps`` dispatches one CDP ``Input.dispatchMouseEvent`` of type
``mouseMoved`` at the target, so the page sees a single move event at the destination, a CDP round trip
(a few milliseconds) after the previous input. Re-implemented from Playwright's public API documentation.
"""

from __future__ import annotations

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import BotTiming, Point, make_path

# Playwright dispatches down / move / up back to back; each is one CDP round trip. A script waits with a
# constant ``page.wait_for_timeout`` between drags.
CDP_ROUND_TRIP_MS = (1.0, 6.0)
TIMING = BotTiming(
    press_delay_ms=CDP_ROUND_TRIP_MS,
    release_delay_ms=CDP_ROUND_TRIP_MS,
    pause_ms=(50.0, 300.0),
    fixed_pause=True,
)


def teleport(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One jump: the pointer at ``start_px`` at 0 ms and a single move event at ``end_px`` a few ms later."""
    jump_ms = rng.uniform(*CDP_ROUND_TRIP_MS)
    return make_path(np.array([0.0, jump_ms]), np.array([start_px, end_px], dtype=np.float64))
