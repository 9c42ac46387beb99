"""Replay: a recorded human movement, re-targeted and lightly perturbed (the data-driven attacker).

The cheapest strong attack on a behavioural CAPTCHA is the replay attack: record real people's pointer
movements once and play them back. No single tool is imitated here; the attacker is the one ``params.yaml``
prepares for (strokes of ``split.attacker_users``, whom no model ever sees). Given one such stroke, the bot:

* re-targets it onto the requested start→end by the similarity transform (rotation, uniform scale,
  translation) that maps the stroke's first point to the start and its last point to the end, so the stroke's
  shape and relative curvature are kept;
* adds Gaussian positional noise (a fraction of a pixel to ~1.5 px) under a ``sin`` envelope, so the stroke
  still starts and lands exactly on its targets, to avoid replaying byte-identical traces;
* time-warps it smoothly: a global speed factor in 0.8–1.25 and a mild monotone warp
  ``τ ↦ τ + a·sin(πτ)`` with ``|a| ≤ 0.15`` (monotone since ``π·0.15 < 1``).

The source keeps its own event times (after the warp), so a replayed stroke carries the sampling of the
recording it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

from tcurity.geometry import bend_along, unbend_along
from tcurity.sampling import Path2
from tcurity.simulate.motion import BotTiming, FloatArray, Point, make_path, pin_ends, taper
from tcurity.traces import PerforationTask, Trace, TraceArrays

SPEED_FACTOR = (0.8, 1.25)
WARP_AMPLITUDE = 0.15
NOISE_STD_PX = (0.3, 1.5)
REPLAY_FIT = (0.7, 1.4)
"""The chord ratios (recorded stroke to movement asked for) a careful attacker replays."""


class _Recorded(Protocol):
    """A recorded human movement with its start-to-end distance (:class:`tcurity.data.strokes.Stroke`)."""

    @property
    def chord_px(self) -> float: ...


RecordedT = TypeVar("RecordedT", bound=_Recorded)


def pick_source(sources: Sequence[RecordedT], length_px: float | None, rng: np.random.Generator) -> RecordedT:
    """A recorded movement to replay for a movement of ``length_px``: drawn uniformly (one ``rng`` draw) among
    those whose chord is within :data:`REPLAY_FIT` of it, as a careful attacker picks, or among all of them when
    none fits or the length is not known (``None``)."""
    fitting = [
        s for s in sources if length_px is None or REPLAY_FIT[0] <= s.chord_px / length_px <= REPLAY_FIT[1]
    ] or list(sources)
    return fitting[int(rng.integers(len(fitting)))]


TIMING = BotTiming(
    press_delay_ms=(20.0, 150.0), release_delay_ms=(20.0, 150.0), pause_ms=(100.0, 500.0), fixed_pause=False
)


def retarget(source: Path2, start_px: Point, end_px: Point) -> FloatArray:
    """The source's points mapped by the similarity transform taking its first point to ``start_px`` and its
    last point to ``end_px``, shape ``(n, 2)``.

    Raises:
        ValueError: when the source starts and ends at the same point (no direction to rotate from).
    """
    z = source.x + 1j * source.y
    chord = z[-1] - z[0]
    if abs(chord) < 1e-9:
        raise ValueError("a replay source must end away from where it starts")
    w_start, w_end = complex(*start_px), complex(*end_px)
    mapped = w_start + (z - z[0]) * ((w_end - w_start) / chord)
    return np.stack([mapped.real, mapped.imag], axis=1)


def time_warp(t_ms: FloatArray, speed_factor: float, amplitude: float) -> FloatArray:
    """Times stretched by ``speed_factor`` and bent by ``τ ↦ τ + amplitude·sin(πτ)``.

    The warp is monotone for ``|amplitude| < 1/π``; the first time maps to 0 and the duration becomes
    ``speed_factor`` times the source's.
    """
    t = np.asarray(t_ms, dtype=np.float64) - t_ms[0]
    duration_ms = float(t[-1])
    if duration_ms <= 0.0:
        return t
    tau = t / duration_ms
    return np.asarray(speed_factor * duration_ms * (tau + amplitude * np.sin(np.pi * tau)), dtype=np.float64)


def replay(source: Path2, start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """Replays a human ``source`` movement from ``start_px`` to ``end_px`` with noise and a random time-warp.

    Raises:
        ValueError: when the source has fewer than two points or no displacement.
    """
    if len(source) < 2:
        raise ValueError("a replay source needs at least two points")
    points = retarget(source, start_px, end_px)
    noise = rng.normal(0.0, rng.uniform(*NOISE_STD_PX), size=points.shape) * taper(len(points))[:, None]
    warped = time_warp(source.t_ms, rng.uniform(*SPEED_FACTOR), rng.uniform(-WARP_AMPLITUDE, WARP_AMPLITUDE))
    return make_path(warped, pin_ends(points + noise, start_px, end_px))


def replay_trace(
    accepted: Trace, task: PerforationTask, speed_factor: float = 1.0, amplitude: float = 0.0
) -> TraceArrays:
    """A Phase A trace that once passed, re-sent as the answer to another ``task``: no noise, only re-targeting
    and an optional time-warp.

    The accepted trace's points leave its own perforation's bend, are carried from its start→end onto the new
    task's by the similarity transform, and take the new perforation's bend; the hover before the press and
    the sampling come along as recorded.

    Raises:
        ValueError: when ``accepted`` does not answer a perforation.
    """
    old = accepted.task
    if not isinstance(old, PerforationTask):
        raise ValueError("only a Phase A trace can be replayed onto a perforation")
    arrays = accepted.arrays()
    x_px, y_px = unbend_along(old, *arrays.in_pixels(old.area_px))
    (ow, oh), (w, h) = old.area_px, task.area_px
    z = x_px + 1j * y_px
    old_start, old_end = complex(old.start.x * ow, old.start.y * oh), complex(old.end.x * ow, old.end.y * oh)
    new_start, new_end = complex(task.start.x * w, task.start.y * h), complex(task.end.x * w, task.end.y * h)
    moved = new_start + (z - old_start) * ((new_end - new_start) / (old_end - old_start))
    bx, by = bend_along(task, moved.real, moved.imag)
    return TraceArrays(bx / w, by / h, time_warp(arrays.t_ms, speed_factor, amplitude), arrays.event.copy())
