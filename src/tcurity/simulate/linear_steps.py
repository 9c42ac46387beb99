"""Straight-line stepping: Playwright ``mouse.move(x, y, steps=N)`` and Selenium ActionChains' default move.

* Playwright (``Mouse.move`` with ``steps``) interpolates ``N`` equal steps from the current position to the
  target and dispatches each as one CDP ``mouseMoved`` event as soon as the previous one returns, so events
  arrive 1–8 ms apart with no easing.
* Selenium ``ActionChains.move_to_element`` / ``move_by_offset`` sends a W3C ``pointerMove`` action with the
  default duration of 250 ms; the driver interpolates it linearly in time and emits a pointer event about
  every 16 ms (one per frame).

Each trace picks one variant at random. Both re-implemented from the tools' public documentation and the W3C
WebDriver Actions specification.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate.motion import BotTiming, FloatArray, Point, gap_clock_ms, make_path, pin_ends

Variant = Literal["playwright", "selenium"]

PLAYWRIGHT_STEPS = (5, 50)
PLAYWRIGHT_GAP_MS = (1.0, 8.0)
SELENIUM_DURATION_MS = 250.0
SELENIUM_FRAME_MS = 16.0
SELENIUM_JITTER_MS = 1.0
TIMING = BotTiming(
    press_delay_ms=(1.0, 6.0), release_delay_ms=(1.0, 6.0), pause_ms=(50.0, 300.0), fixed_pause=True
)


def _along_line(start_px: Point, end_px: Point, fraction: FloatArray) -> FloatArray:
    start = np.asarray(start_px, dtype=np.float64)
    return np.asarray(start + np.outer(fraction, np.subtract(end_px, start_px)), dtype=np.float64)


def playwright_steps(
    start_px: Point, end_px: Point, rng: np.random.Generator, steps: int | None = None
) -> Path2:
    """Playwright's ``steps=N`` move: ``N`` equal steps (random 5–50 unless given), one CDP call apart."""
    n = int(rng.integers(PLAYWRIGHT_STEPS[0], PLAYWRIGHT_STEPS[1] + 1)) if steps is None else steps
    fraction = np.arange(n + 1) / n
    t_ms = gap_clock_ms(rng.uniform(*PLAYWRIGHT_GAP_MS, size=n))
    return make_path(t_ms, pin_ends(_along_line(start_px, end_px, fraction), start_px, end_px))


def selenium_move(start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """Selenium's default 250 ms pointer move: linear in time, one event per ~16 ms frame, last at 250 ms."""
    frames = np.arange(1, int(SELENIUM_DURATION_MS // SELENIUM_FRAME_MS) + 1) * SELENIUM_FRAME_MS
    frames = frames + rng.uniform(0.0, SELENIUM_JITTER_MS, size=len(frames))
    t_ms = np.concatenate([[0.0], frames[frames < SELENIUM_DURATION_MS], [SELENIUM_DURATION_MS]])
    fraction = t_ms / SELENIUM_DURATION_MS
    return make_path(t_ms, pin_ends(_along_line(start_px, end_px, fraction), start_px, end_px))


def linear_steps(
    start_px: Point, end_px: Point, rng: np.random.Generator, variant: Variant | None = None
) -> Path2:
    """A straight, evenly stepped move by Playwright or Selenium (random unless ``variant`` is given)."""
    chosen = variant or ("playwright" if rng.random() < 0.5 else "selenium")
    if chosen == "playwright":
        return playwright_steps(start_px, end_px, rng)
    return selenium_move(start_px, end_px, rng)
