"""Bots emitted at browser rates: every movement as the SDK would record it from a real display.

A bot's tool dispatches pointer events on its own clock (every 12–20 ms, 100 Hz, a thousand events at once); the
browser does not hand them to the page that way. It aligns ``pointermove`` to animation frames and coalesces
what arrived in between (:func:`tcurity.sampling.sdk_event_stream`). :class:`BrowserEmission` draws one display
per trace (60 Hz for most, 120 or 144 Hz for some, as real screens) and passes each movement of the trace through
that display's frame clock, so bots carry the event timing the SDK records for people rather than the tool's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tcurity.sampling import Path2, sdk_event_stream


@dataclass(frozen=True)
class BrowserEmission:
    """The displays bots are recorded on: frame rates in Hz with their shares, and the frame clock's jitter.

    Raises:
        ValueError: (on construction) for no rate, a non-positive rate, or shares that do not match or sum to 1.
    """

    frame_rates_hz: Sequence[float] = (60.0, 120.0, 144.0)
    shares: Sequence[float] = (0.8, 0.1, 0.1)
    frame_jitter_ms: float = 0.5

    def __post_init__(self) -> None:
        if not self.frame_rates_hz or min(self.frame_rates_hz) <= 0.0:
            raise ValueError("browser emission needs positive frame rates")
        if len(self.shares) != len(self.frame_rates_hz) or not np.isclose(sum(self.shares), 1.0):
            raise ValueError("browser emission needs one share per frame rate, summing to 1")

    def draw_display(self, rng: np.random.Generator) -> float:
        """One display's frame rate (Hz), drawn by the shares: a trace is recorded on one display."""
        return float(self.frame_rates_hz[int(rng.choice(len(self.frame_rates_hz), p=list(self.shares)))])

    def emit(self, movement: Path2, frame_hz: float, rng: np.random.Generator) -> Path2:
        """``movement`` as the SDK records it on a ``frame_hz`` display (first and last events kept)."""
        return sdk_event_stream(movement, rng, frame_hz=frame_hz, frame_jitter_ms=self.frame_jitter_ms)
