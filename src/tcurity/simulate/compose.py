"""Task composers: whole Phase A and Phase B bot traces built from a family's movements.

A bot answers a task the way a script drives its tool: it moves the pointer to where it must press (with the
family's own motion; a single jump for ``teleport``), presses, drags with the family's motion, releases, and
waits its own (bot-like) pause before the next drag. Delays come from the family's
:class:`~tcurity.simulate.motion.BotTiming`. Positions are produced in task-area pixels and returned in the
trace schema's task-normalised units, ready for :func:`tcurity.traces.make_trace`.

Phase A and the perforation's bend. Every bot aims at the perforation's endpoints. *Naive* families then move
along their own path from start to end (a straight chord, or the function shape of BeCAPTCHA): the chord
always lies inside the band, since the perforation bows at most ``0.04`` lengths and the band is ``0.08``.
*Humanised* families are path followers by default (``follow``): an attacker who took the trouble to look
human also makes the tear pass the follow check, so the movement is mapped onto the drawn curve. See
:func:`follow_perforation`; it is the equivalent of turning the tool's curvature knobs down (ghost-cursor's
``spreadOverride``, pyclick's boundary) and steering it along the bend, and it leaves the tool's timing and
speed profile untouched.

Event timing. By default a movement keeps the events its tool dispatched. With a
:class:`~tcurity.simulate.emission.BrowserEmission`, every movement of a trace is re-emitted as the SDK records it
on one display (60 Hz for most, 120 or 144 Hz for some): rAF-aligned, coalesced (``docs/data.md``, bot zoo).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tcurity.geometry import perforation_polyline, within_trace_bounds
from tcurity.sampling import Path2
from tcurity.simulate import Family, get_family
from tcurity.simulate.emission import BrowserEmission
from tcurity.simulate.motion import BotTiming, FloatArray, Point, bezier, chord_frame, make_path, pin_ends
from tcurity.traces import COORD_MAX, COORD_MIN, Event, GridTask, PerforationTask, Rect, TraceArrays

logger = logging.getLogger(__name__)

# Where the pointer rests before the bot starts: anywhere over the task area, away from its very edge.
HOVER_ORIGIN_MARGIN = 0.05
# How far (px) a Phase A bot's pointer starts from the grip: log-uniform over people's approach distances.
APPROACH_CHORD_PX = (60.0, 1200.0)
# A path follower keeps its sideways wander within this share of the band (drawn once per trace).
FOLLOW_BAND_SHARE = (0.4, 0.8)
# Timer jitter of a script's constant sleep.
FIXED_PAUSE_JITTER_MS = 2.0


@dataclass
class _Recorder:
    """Collects events on one clock, in task-area pixels, in the order they happen."""

    t_ms: list[float] = field(default_factory=list)
    x_px: list[float] = field(default_factory=list)
    y_px: list[float] = field(default_factory=list)
    event: list[int] = field(default_factory=list)

    @property
    def now_ms(self) -> float:
        return self.t_ms[-1] if self.t_ms else 0.0

    def add(self, event: Event, point_px: Point, t_ms: float) -> None:
        self.t_ms.append(float(t_ms))
        self.x_px.append(float(point_px[0]))
        self.y_px.append(float(point_px[1]))
        self.event.append(int(event))

    def add_moves(self, path: Path2, t0_ms: float, first: int) -> None:
        """Adds the path's points from index ``first`` on as ``move`` events, its clock moved by ``t0_ms``."""
        for i in range(first, len(path)):
            self.add(Event.MOVE, (path.x[i], path.y[i]), t0_ms + path.t_ms[i])

    def to_arrays(self, area_px: tuple[int, int]) -> TraceArrays:
        """The events in task-normalised units, clipped to the schema's coordinate range."""
        x = np.asarray(self.x_px, dtype=np.float64) / area_px[0]
        y = np.asarray(self.y_px, dtype=np.float64) / area_px[1]
        if np.any((np.minimum(x, y) < COORD_MIN) | (np.maximum(x, y) > COORD_MAX)):
            logger.debug("clipping a simulated trace that left the allowed coordinate range")
        return TraceArrays(
            x=np.clip(x, COORD_MIN, COORD_MAX),
            y=np.clip(y, COORD_MIN, COORD_MAX),
            t_ms=np.maximum.accumulate(np.asarray(self.t_ms, dtype=np.float64)),
            event=np.asarray(self.event, dtype=np.int8),
        )


@dataclass
class _Pauses:
    """A family's waits between drags: one constant per trace (a script's sleep) or a fresh draw each time."""

    timing: BotTiming
    rng: np.random.Generator
    fixed_ms: float | None = None

    def next_ms(self) -> float:
        if not self.timing.fixed_pause:
            return float(self.rng.uniform(*self.timing.pause_ms))
        if self.fixed_ms is None:
            self.fixed_ms = float(self.rng.uniform(*self.timing.pause_ms))
        return self.fixed_ms + float(self.rng.uniform(0.0, FIXED_PAUSE_JITTER_MS))


def _hover_origin(area_px: tuple[int, int], rng: np.random.Generator) -> Point:
    """A random resting position of the pointer over the task area, in pixels."""
    fx, fy = rng.uniform(HOVER_ORIGIN_MARGIN, 1.0 - HOVER_ORIGIN_MARGIN, size=2)
    return (float(fx * area_px[0]), float(fy * area_px[1]))


def approach_origin(
    end_px: Point, area_px: tuple[int, int], rng: np.random.Generator, tries: int = 32
) -> Point:
    """Where a bot's pointer rests before it approaches ``end_px``: at a distance drawn log-uniformly from
    :data:`APPROACH_CHORD_PX` in a random direction, inside what a trace may hold
    (:func:`tcurity.geometry.within_trace_bounds`); over the task area when no draw among ``tries`` fits.

    The distances span the people's approaches (``prepare_humans.approach``), so no layer can tell a bot by how
    far it came from; a script starts wherever its pointer was left, and the page's layout sets that.
    """
    low, high = np.log(APPROACH_CHORD_PX[0]), np.log(APPROACH_CHORD_PX[1])
    for _ in range(tries):
        length = float(np.exp(rng.uniform(low, high)))
        angle = float(rng.uniform(0.0, 2.0 * np.pi))
        x, y = end_px[0] + length * np.cos(angle), end_px[1] + length * np.sin(angle)
        if within_trace_bounds(np.array([x]), np.array([y]), area_px):
            return (x, y)
    return _hover_origin(area_px, rng)


def _hover(rec: _Recorder, movement: Path2, wait_ms: float) -> None:
    """Records a movement without a press. The first movement of a trace also records where it starts."""
    if not rec.t_ms:
        rec.add_moves(movement, 0.0, first=0)
    else:
        rec.add_moves(movement, rec.now_ms + wait_ms, first=1)


def _press(rec: _Recorder, movement: Path2, timing: BotTiming, rng: np.random.Generator) -> None:
    """Records ``down`` at the movement's start, the movement as moves, and ``up`` at its end."""
    down_ms = rec.now_ms + rng.uniform(*timing.press_delay_ms)
    rec.add(Event.DOWN, (movement.x[0], movement.y[0]), down_ms)
    rec.add_moves(movement, down_ms, first=1)
    rec.add(Event.UP, (movement.x[-1], movement.y[-1]), rec.now_ms + rng.uniform(*timing.release_delay_ms))


def _perforation_ends_px(task: PerforationTask) -> tuple[Point, Point]:
    w, h = task.area_px
    return (task.start.x * w, task.start.y * h), (task.end.x * w, task.end.y * h)


def follow_perforation(movement: Path2, task: PerforationTask, rng: np.random.Generator) -> Path2:
    """Maps a movement made from the perforation's start to its end onto the (bent) perforation.

    Each point is described in the chord's frame (share ``u`` of the chord, sideways offset ``v`` in pixels).
    Points behind the start or past the end (knots outside the chord's span) are held at the ends (``u`` is
    clipped to 0–1), since a tear cannot run beyond the perforation without leaving the band.
    The offsets are scaled down, if needed, so the largest stays within a random 40–80 % of the band, and the
    point is placed at the perforation's quadratic Bézier at parameter ``u`` (the chord coordinate of that
    Bézier is exactly ``u``, since its control point sits on the chord's bisector) plus ``v`` along the
    curve's local normal. Times are kept, so the family's timing and speed profile survive.
    """
    start_px, end_px = _perforation_ends_px(task)
    direction, normal, length = chord_frame(start_px, end_px)
    rel = np.stack([movement.x - start_px[0], movement.y - start_px[1]], axis=1)
    u, v = np.clip(rel @ direction / length, 0.0, 1.0), rel @ normal
    polyline = perforation_polyline(task)
    band_px = task.band * float(np.sum(np.hypot(*np.diff(polyline, axis=0).T)))
    limit_px = rng.uniform(*FOLLOW_BAND_SHARE) * band_px
    widest_px = float(np.max(np.abs(v)))
    if widest_px > limit_px:
        v = v * (limit_px / widest_px)
    control = _perforation_control_px(task)
    points = bezier(control, u) + v[:, None] * _quadratic_normals(control, u)
    return make_path(movement.t_ms, pin_ends(points, start_px, end_px))


def _perforation_control_px(task: PerforationTask) -> FloatArray:
    """The perforation's three Bézier control points, recovered from geometry's own curve.

    ``perforation_polyline`` with two segments gives the curve at parameters 0, ½ and 1; a quadratic Bézier
    passes through ``(start + 2·control + end) / 4`` at ½, hence ``control = 2·mid − (start + end) / 2``.
    """
    start, mid, end = perforation_polyline(task, segments=2)
    return np.vstack([start, 2.0 * mid - (start + end) / 2.0, end])


def _quadratic_normals(control_px: FloatArray, u: FloatArray) -> FloatArray:
    """Unit normals ``(-dy, dx)`` of a quadratic Bézier at parameters ``u``."""
    start, control, end = control_px
    tangent = 2.0 * (1.0 - u)[:, None] * (control - start) + 2.0 * u[:, None] * (end - control)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


@dataclass(frozen=True)
class _Display:
    """One trace's recording: the emission model and the display drawn for the trace (none: the tool's events)."""

    emission: BrowserEmission | None
    frame_hz: float

    @classmethod
    def draw(cls, emission: BrowserEmission | None, rng: np.random.Generator) -> _Display:
        """Draws the display only when there is an emission, so traces without one keep their old random stream."""
        return cls(emission, emission.draw_display(rng) if emission else 0.0)

    def record(self, movement: Path2, rng: np.random.Generator) -> Path2:
        return self.emission.emit(movement, self.frame_hz, rng) if self.emission else movement


def _source_at(sources: Sequence[Path2] | None, index: int) -> Path2 | None:
    """The recorded movement for the ``index``-th movement of a trace, cycling through ``sources``."""
    return sources[index % len(sources)] if sources else None


def phase_a_trace(
    task: PerforationTask,
    family: str,
    rng: np.random.Generator,
    source: Path2 | None = None,
    follow: bool | None = None,
    model: object | None = None,
    emission: BrowserEmission | None = None,
) -> TraceArrays:
    """A bot's Phase A answer: approach the perforation's start, press, tear to its end, release.

    Args:
        task: the perforation to tear.
        family: a key of :data:`tcurity.simulate.FAMILIES`.
        rng: the only source of randomness (same seed, same trace).
        source: the human movement a ``replay`` bot re-uses (for both its approach and its tear).
        follow: whether the tear is mapped onto the bent perforation (:func:`follow_perforation`); by default
            humanised families follow it and naive ones go along their own path.
        model: the fitted model a fitted family draws from (:func:`tcurity.simulate.fitted.load_bot_models`).
        emission: when given, the approach and the tear are recorded as the SDK records them on one display
            drawn for the trace; when ``None``, the tool's own events are kept (and the random stream is that of
            earlier versions).

    Returns:
        The events in task-normalised units; they pass :func:`tcurity.traces.make_trace`.

    Raises:
        KeyError: for an unknown family. ValueError: when a replay family gets no source, or a fitted family
            no model.
    """
    fam = get_family(family)
    display = _Display.draw(emission, rng)
    start_px, end_px = _perforation_ends_px(task)
    rec = _Recorder()
    approach = fam.move(approach_origin(start_px, task.area_px, rng), start_px, rng, source, model)
    _hover(rec, display.record(approach, rng), wait_ms=0.0)
    tear = fam.move(start_px, end_px, rng, source, model)
    follows = fam.kind == "humanised" if follow is None else follow
    if follows:
        tear = follow_perforation(tear, task, rng)
    _press(rec, display.record(tear, rng), fam.timing, rng)
    return rec.to_arrays(task.area_px)


def _centre_px(rect: Rect, area_px: tuple[int, int]) -> Point:
    cx, cy = rect.centre
    return (cx * area_px[0], cy * area_px[1])


def _check_moves(task: GridTask, moves: Sequence[tuple[int, int]]) -> None:
    if not moves:
        raise ValueError("a Phase B answer needs at least one move")
    for cell, slot in moves:
        if not (0 <= cell < len(task.cells) and 0 <= slot < len(task.slots)):
            raise ValueError(
                f"move ({cell}, {slot}) is outside the grid's 9 cells or {len(task.slots)} slots"
            )


def _drag_all(
    rec: _Recorder,
    fam: Family,
    task: GridTask,
    moves: Sequence[tuple[int, int]],
    *,
    rng: np.random.Generator,
    sources: Sequence[Path2] | None,
    timing: BotTiming,
    model: object | None,
    display: _Display,
) -> None:
    """Records every drag: hover to the cell (after a pause, except the first), press, drag to the slot."""
    pauses = _Pauses(timing, rng)
    position = _hover_origin(task.area_px, rng)
    for k, (cell, slot) in enumerate(moves):
        cell_px = _centre_px(task.cells[cell], task.area_px)
        slot_px = _centre_px(task.slots[slot], task.area_px)
        wait_ms = pauses.next_ms() if k else 0.0
        approach = fam.move(position, cell_px, rng, _source_at(sources, 2 * k), model)
        _hover(rec, display.record(approach, rng), wait_ms)
        drag = fam.move(cell_px, slot_px, rng, _source_at(sources, 2 * k + 1), model)
        _press(rec, display.record(drag, rng), timing, rng)
        position = slot_px


def phase_b_trace(
    task: GridTask,
    moves: list[tuple[int, int]],
    family: str,
    rng: np.random.Generator,
    sources: list[Path2] | None = None,
    timing: BotTiming | None = None,
    model: object | None = None,
    emission: BrowserEmission | None = None,
) -> TraceArrays:
    """A bot's Phase B answer: for each ``(cell_index, slot_index)`` in order, drag the cell to the slot.

    The bot moves to the cell's centre with the family's motion, presses, drags to the slot's centre with the
    family's motion and releases; between drags it waits the family's pause (a constant per trace for naive
    scripts, a fresh random delay for humanising tools).

    Args:
        task: the grid layout.
        moves: ``(cell_index, slot_index)`` pairs in answer order.
        family: a key of :data:`tcurity.simulate.FAMILIES`.
        rng: the only source of randomness.
        sources: human movements for a ``replay`` bot: movement ``i`` (approach ``2k``, drag ``2k + 1`` of
            move ``k``) replays ``sources[i % len(sources)]``; pass ``2 · len(moves)`` strokes for no repeats.
        timing: waits that replace the family's own (e.g. :data:`tcurity.simulate.motion.SCRIPTED_WAITS`, a
            script's sleeps around the tool's moves); the movements stay the tool's.
        model: the fitted model a fitted family draws from.
        emission: when given, every movement is recorded as the SDK records it on one display drawn for the
            answer; when ``None``, the tool's own events are kept.

    Returns:
        The events in task-normalised units; they pass :func:`tcurity.traces.make_trace`.

    Raises:
        KeyError: for an unknown family. ValueError: for no moves, an index outside the grid, a replay
            family without sources or a fitted family without its model.
    """
    _check_moves(task, moves)
    fam = get_family(family)
    display = _Display.draw(emission, rng)
    rec = _Recorder()
    _drag_all(
        rec,
        fam,
        task,
        moves,
        rng=rng,
        sources=sources,
        timing=timing or fam.timing,
        model=model,
        display=display,
    )
    return rec.to_arrays(task.area_px)
