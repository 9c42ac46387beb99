"""Mapping real human movements onto our task geometry, keeping their dynamics.

A human stroke (screen pixels, its own times) becomes a trace of a task by a *similarity transform*: one
rotation, one uniform scale and one translation that carry the stroke's first point onto the task's start and
its last point onto the task's end. Shape, relative jitter, corrections and the whole timing (speed profile,
pauses, sampling) survive unchanged; only the absolute size and direction change. For a bent perforation each
point is then shifted sideways by the curve's offset at its position along the chord, so the stroke follows the
curve as a person tracing it would.

Limits (see ``docs/data.md``): the source movements were pointing strokes and drags on a remote desktop, not
tears of a ticket; scaling changes speed in pixels per second (features are therefore measured in task lengths);
and the recordings' coarse sampling is what every trace is reduced to before features (``tcurity.sampling``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tcurity.geometry import perforation_length_px
from tcurity.sampling import Path2
from tcurity.traces import Event, PerforationTask, TraceArrays


def similarity_map(
    path: Path2, start_px: tuple[float, float], end_px: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rotates, scales and translates ``path`` so that its first point lands on ``start_px``, its last on
    ``end_px``.

    Raises:
        ValueError: when the path starts and ends at the same point (no transform exists).
    """
    src = np.stack([path.x - path.x[0], path.y - path.y[0]], axis=1)
    src_chord = src[-1]
    dst_chord = np.array(end_px, dtype=np.float64) - np.array(start_px, dtype=np.float64)
    src_len = float(np.hypot(*src_chord))
    if src_len == 0.0:
        raise ValueError("a path that ends where it starts has no chord to map")
    scale = float(np.hypot(*dst_chord)) / src_len
    angle = np.arctan2(dst_chord[1], dst_chord[0]) - np.arctan2(src_chord[1], src_chord[0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mapped = (src @ rot.T) * scale + np.array(start_px)
    return mapped[:, 0], mapped[:, 1]


def bend_along(
    task: PerforationTask, x_px: NDArray[np.float64], y_px: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shifts points that follow the chord so they follow the task's bent perforation instead."""
    if task.bend == 0.0:
        return x_px, y_px
    w, h = task.area_px
    start = np.array([task.start.x * w, task.start.y * h])
    chord = np.array([task.end.x * w, task.end.y * h]) - start
    length = float(np.hypot(*chord))
    along = np.clip(((x_px - start[0]) * chord[0] + (y_px - start[1]) * chord[1]) / length**2, 0.0, 1.0)
    normal = np.array([-chord[1], chord[0]]) / length
    shift = 4.0 * task.bend * length * along * (1.0 - along)
    return x_px + shift * normal[0], y_px + shift * normal[1]


def to_perforation(path: Path2, task: PerforationTask) -> TraceArrays:
    """A human movement as a Phase A answer: press at the perforation's start, tear along it, release at its end."""
    w, h = task.area_px
    x_px, y_px = similarity_map(path, (task.start.x * w, task.start.y * h), (task.end.x * w, task.end.y * h))
    x_px, y_px = bend_along(task, x_px, y_px)
    event = np.full(len(path), Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    return TraceArrays(x=x_px / w, y=y_px / h, t_ms=path.t_ms - path.t_ms[0], event=event)


def scale_to_task(path: Path2, task: PerforationTask) -> float:
    """The factor by which :func:`to_perforation` scales a movement (task length over stroke chord)."""
    chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
    return perforation_length_px(task) / chord
