"""Mapping real human movements onto our task geometry, keeping their dynamics.

A human stroke (screen pixels, its own times) becomes a trace of a task by a *similarity transform*: one
rotation, one uniform scale and one translation that carry the stroke's first point onto the task's start and
its last point onto the task's end. Shape, relative jitter, corrections and the whole timing (speed profile,
pauses, sampling) survive unchanged; only the absolute size and direction change. For a bent perforation each
point is then shifted sideways by the curve's offset at its position along the chord, so the stroke follows the
curve as a person tracing it would.

Phase B (:func:`to_grid`) chains several strokes of one person's session, in recording order, into one answer
to the grid: a pointing stroke onto each target cell, a drag (or, when the session has none of the right length,
a pointing stroke) from the cell into its slot, with the person's own rest before each pointing stroke.

Limits (see ``docs/data.md``): the source movements were pointing strokes and drags on a remote desktop, not
tears of a ticket or drags of a tile; scaling changes speed in pixels per second (features are therefore measured
in task lengths or cell sides); and the recordings' coarse sampling is what every trace is reduced to before
features (``tcurity.sampling``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tcurity.data.balabit import Stroke
from tcurity.geometry import bend_along, perforation_length_px, rotate_about, within_trace_bounds
from tcurity.sampling import Path2
from tcurity.traces import Event, GridTask, PerforationTask, Rect, TraceArrays


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


def to_perforation(path: Path2, task: PerforationTask) -> TraceArrays:
    """A human movement as a Phase A answer: press at the perforation's start, tear along it, release at its end."""
    w, h = task.area_px
    x_px, y_px = similarity_map(path, (task.start.x * w, task.start.y * h), (task.end.x * w, task.end.y * h))
    x_px, y_px = bend_along(task, x_px, y_px)
    event = np.full(len(path), Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    return TraceArrays(x=x_px / w, y=y_px / h, t_ms=path.t_ms - path.t_ms[0], event=event)


def place_approach(
    path: Path2,
    end_px: tuple[float, float],
    area_px: tuple[int, int],
    rng: np.random.Generator,
    tries: int = 32,
) -> Path2 | None:
    """A person's pointing stroke as the approach to a press at ``end_px``: moved so that it ends there, turned
    about that end by a random angle, neither scaled nor re-timed (the approach's distance and duration are the
    person's own). Returns ``None`` when no angle among ``tries`` keeps it where a trace may hold it
    (:func:`tcurity.geometry.within_trace_bounds`)."""
    x = path.x - path.x[-1] + end_px[0]
    y = path.y - path.y[-1] + end_px[1]
    for angle in rng.uniform(0.0, 2.0 * np.pi, size=tries):
        rx, ry = rotate_about(x, y, end_px, float(angle))
        if within_trace_bounds(rx, ry, area_px):
            return Path2(path.t_ms.copy(), rx, ry)
    return None


def with_approach(tear: TraceArrays, approach: Path2, area_px: tuple[int, int]) -> TraceArrays:
    """A tear preceded by its approach: the approach's points but its last (the press, which the tear's ``down``
    is) as ``move`` events, timed so that the approach's press falls on the ``down``; times start at 0."""
    lead = approach.t_ms[-1] - approach.t_ms[:-1]
    t_ms = np.concatenate([tear.t_ms[0] - lead, tear.t_ms])
    t_ms -= t_ms[0]
    moves = np.full(len(lead), Event.MOVE, dtype=np.int8)
    return TraceArrays(
        x=np.concatenate([approach.x[:-1] / area_px[0], tear.x]),
        y=np.concatenate([approach.y[:-1] / area_px[1], tear.y]),
        t_ms=t_ms,
        event=np.concatenate([moves, tear.event]),
    )


def scale_to_task(path: Path2, task: PerforationTask) -> float:
    """The factor by which :func:`to_perforation` scales a movement (task length over stroke chord)."""
    chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
    return perforation_length_px(task) / chord


# --- Phase B: one answer to the grid from a person's consecutive strokes ----------------------------------------

# Where the pointer rests before the first movement: anywhere over the task area but its outer 5 % (as the bots).
GRID_ORIGIN_MARGIN = 0.05
# A drag has moved off once it is this far (screen pixels) from where it was pressed.
HOLD_RADIUS_PX = 5.0


def press_hold_ms(drag: Path2, radius_px: float = HOLD_RADIUS_PX) -> float:
    """How long a recorded drag stayed on its press point: the time until it is first ``radius_px`` away.

    The crossing is interpolated between events, so a drag recorded at 9 Hz and one recorded at 60 Hz give
    about the same hold (the time to the first event after the press would not: it is mostly the sampling
    interval at 9 Hz). A drag that never moves that far holds for its whole duration.
    """
    away = np.hypot(drag.x - drag.x[0], drag.y - drag.y[0])
    beyond = np.flatnonzero(away > radius_px)
    if len(beyond) == 0:
        return drag.duration_ms
    i = int(beyond[0])
    frac = (radius_px - away[i - 1]) / (away[i] - away[i - 1])
    return float(drag.t_ms[i - 1] + frac * (drag.t_ms[i] - drag.t_ms[i - 1]) - drag.t_ms[0])


@dataclass(frozen=True, slots=True)
class GridComposition:
    """How :func:`to_grid` builds a Phase B answer from strokes (``params.yaml: prepare_phase_b``).

    Attributes:
        max_pause_ms: cap of the person's rest before a pointing stroke (recorded rests run to minutes).
        max_scale_ratio: a stroke fits a movement when their lengths differ by at most this factor.
        target_spread: how far from a cell's or slot's centre the press or release lands, as a share of half
            the side (uniform per axis): people grab a tile and drop it anywhere near the middle.
    """

    max_pause_ms: float = 3000.0
    max_scale_ratio: float = 1.5
    target_spread: float = 0.5


@dataclass
class SessionStrokes:
    """The strokes of one recorded session not used yet, in recording order.

    ``press_holds_ms`` are the same person's holds between pressing and moving off in their recorded drags
    (:func:`press_hold_ms`): a pointing stroke standing in for a drag starts in full motion (it was cut at the
    end of a rest), so it gets one of these holds first.
    """

    strokes: list[Stroke] = field(default_factory=list)
    press_holds_ms: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.strokes)

    def press_hold_ms(self, rng: np.random.Generator) -> float:
        """One of the person's press-to-move holds, drawn at random (0 when none is known)."""
        return (
            float(self.press_holds_ms[int(rng.integers(len(self.press_holds_ms)))])
            if self.press_holds_ms
            else 0.0
        )

    def take(self, length_px: float, drag: bool, max_scale_ratio: float) -> Stroke:
        """Removes and returns the next stroke that fits a movement of ``length_px``.

        For a drag, the first fitting recorded drag in the session; otherwise (or when there is none) the first
        fitting pointing stroke in recording order; when no pointing stroke fits, the one closest in length.

        Raises:
            LookupError: when no stroke can serve (no pointing stroke left, and for a drag no fitting drag).
        """

        def fits(s: Stroke) -> bool:
            return 1.0 / max_scale_ratio <= length_px / s.chord_px <= max_scale_ratio

        if drag:
            drags = [i for i, s in enumerate(self.strokes) if s.kind == "drag" and fits(s)]
            if drags:
                return self.strokes.pop(drags[0])
        points = [i for i, s in enumerate(self.strokes) if s.kind == "point"]
        if not points:
            raise LookupError("the session has no pointing stroke left")
        fitting = [i for i in points if fits(self.strokes[i])]
        if fitting:
            return self.strokes.pop(fitting[0])
        ratios = [abs(np.log(length_px / self.strokes[i].chord_px)) for i in points]
        return self.strokes.pop(points[int(np.argmin(ratios))])


def _point_in(
    rect: Rect, area_px: tuple[int, int], spread: float, rng: np.random.Generator
) -> tuple[float, float]:
    """A point near the rectangle's centre, in pixels: ``±spread`` of half its side on each axis, uniformly."""
    cx, cy = rect.centre
    du, dv = rng.uniform(-spread, spread, size=2)
    return ((cx + du * rect.w / 2.0) * area_px[0], (cy + dv * rect.h / 2.0) * area_px[1])


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(np.hypot(b[0] - a[0], b[1] - a[1]))


def to_grid(
    pool: SessionStrokes,
    task: GridTask,
    moves: Sequence[tuple[int, int]],
    rng: np.random.Generator,
    config: GridComposition | None = None,
) -> TraceArrays:
    """A human answer to a Phase B grid composed from the next fitting strokes of one session.

    For each ``(cell, slot)`` move: a pointing stroke mapped (:func:`similarity_map`) from the pointer's position
    to a point near the cell's centre, ending in the press (``down``) where the recorded stroke ended in its
    press; then a drag mapped from there to a point near the slot's centre, released (``up``) where the recorded
    drag was released. A pointing stroke standing in for a drag starts after one of the person's press holds
    (:attr:`SessionStrokes.press_holds_ms`). Before every pointing stroke but the first, the pointer rests for the person's own pause
    before that stroke (capped). The first stroke starts at 0 ms from a random point over the task area.
    Strokes are taken from ``pool`` (and removed from it) in recording order, each of about its movement's
    length (:meth:`SessionStrokes.take`).

    Raises:
        LookupError: when the pool runs out of pointing strokes.
    """
    cfg = config or GridComposition()
    area = task.area_px
    margin = rng.uniform(GRID_ORIGIN_MARGIN, 1.0 - GRID_ORIGIN_MARGIN, size=2)
    position = (float(margin[0] * area[0]), float(margin[1] * area[1]))
    parts: list[_Mapped] = []
    now_ms = 0.0
    for k, (cell, slot) in enumerate(moves):
        press = _point_in(task.cells[cell], area, cfg.target_spread, rng)
        release = _point_in(task.slots[slot], area, cfg.target_spread, rng)
        approach = pool.take(_distance(position, press), drag=False, max_scale_ratio=cfg.max_scale_ratio)
        drag = pool.take(_distance(press, release), drag=True, max_scale_ratio=cfg.max_scale_ratio)
        rest_ms = min(approach.pause_before_ms, cfg.max_pause_ms) if k else 0.0
        parts.append(_Mapped.of(approach, position, press, now_ms + rest_ms, Event.DOWN))
        hold_ms = pool.press_hold_ms(rng) if drag.kind == "point" else 0.0
        mapped = _Mapped.of(drag, press, release, parts[-1].t_ms[-1] + hold_ms, Event.UP)
        # A recorded drag's first point is the press itself, already recorded as the approach's last event; a
        # pointing stroke standing in for a drag starts at the press after the hold.
        parts.append(mapped if hold_ms > 0 else mapped.without_first())
        now_ms, position = float(parts[-1].t_ms[-1]), release
    return TraceArrays(
        x=np.concatenate([m.x_px for m in parts]) / area[0],
        y=np.concatenate([m.y_px for m in parts]) / area[1],
        t_ms=np.concatenate([m.t_ms for m in parts]),
        event=np.concatenate([m.event for m in parts]),
    )


@dataclass(frozen=True, slots=True)
class _Mapped:
    """One stroke mapped onto a movement of the grid: its events in task pixels on the trace's clock."""

    t_ms: NDArray[np.float64]
    x_px: NDArray[np.float64]
    y_px: NDArray[np.float64]
    event: NDArray[np.int8]

    @classmethod
    def of(
        cls,
        stroke: Stroke,
        start_px: tuple[float, float],
        end_px: tuple[float, float],
        t0_ms: float,
        last: Event,
    ) -> _Mapped:
        """``stroke`` carried from ``start_px`` to ``end_px``, starting at ``t0_ms``, its last event ``last``."""
        x, y = similarity_map(stroke.path, start_px, end_px)
        event = np.full(len(x), Event.MOVE, dtype=np.int8)
        event[-1] = last
        return cls(t0_ms + stroke.path.t_ms - stroke.path.t_ms[0], x, y, event)

    def without_first(self) -> _Mapped:
        return _Mapped(self.t_ms[1:], self.x_px[1:], self.y_px[1:], self.event[1:])
