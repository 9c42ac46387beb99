"""The one pointer-trace schema of the system.

A trace is what the SDK records while a person (or a bot) answers one task: the pointer events, the viewport,
and the geometry of the task the events answered. The same schema is stored in the datasets (human data and
simulator output), sent by the SDK, checked by the backend and scored by the AI server, so none of them can
drift apart.

Coordinates are *task-normalised*: ``x`` is the distance from the task area's left edge divided by the area's
width, ``y`` the distance from its top edge divided by its height. ``TaskGeometry.area_px`` gives the area's size
in CSS pixels, so isotropic lengths can be recovered (``x * width``, ``y * height``). Times are milliseconds on
one monotonic clock (the browser's ``event.timeStamp``); only differences matter.

Points travel columnar (one list per field) because that is compact on the wire, quick to validate and maps
straight onto numpy arrays (:class:`TraceArrays`) for feature extraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Limits shared by every service that accepts a trace. A real drag at 250 Hz for 20 s is 5,000 events; a
# Phase B answer (up to four drags plus hovering) stays well inside the larger limit.
MIN_POINTS = 3
MAX_POINTS = 8_000
# A tear's approach to the grip (the moves before its press): the SDK sends the pointer's path since its last rest,
# at most 1,000 moves; a longer one is refused, so the approach cannot crowd the tear out of MAX_POINTS.
MAX_APPROACH_POINTS = 1_000
MAX_DURATION_MS = 180_000.0
# Pointer positions may leave the task area (overshoot, a drag released beside a slot) but not by much.
COORD_MIN = -1.0
COORD_MAX = 2.0
# Input-integrity evidence (docs/integrity.md): coalesced sub-events are sent only for events that had two or
# more (one is the event itself), at most MAX_SUB_PER_EVENT each (the last ones) and MAX_SUBSAMPLES in all.
MAX_SUB_PER_EVENT = 8
MAX_SUBSAMPLES = 4_000
MAX_SCREEN_OFFSET_PX = 100_000.0
MAX_MOVEMENT_PX = 10_000.0
MAX_FRAME_MS = 1_000.0
MAX_BRANDS = 10

EventName = Literal["down", "move", "up", "cancel"]
PointerType = Literal["mouse", "pen", "touch"]


class Event(IntEnum):
    """Pointer event kinds as small integers (the array form of :data:`EventName`)."""

    DOWN = 0
    MOVE = 1
    UP = 2
    CANCEL = 3


EVENT_CODES: dict[str, int] = {"down": Event.DOWN, "move": Event.MOVE, "up": Event.UP, "cancel": Event.CANCEL}
EVENT_NAMES: tuple[EventName, ...] = ("down", "move", "up", "cancel")


# Why a trace breaks the schema: the code of every TraceValidationError, which both services answer as a 422.
TRACE_CODES: dict[str, str] = {
    "length_mismatch": "the point fields are not all the same length",
    "unpaired_column": "one column of a pair (screen offsets, movementX/Y, contact size) came without the other",
    "too_few_points": f"fewer than {MIN_POINTS} points",
    "too_many_points": f"more than {MAX_POINTS:,} points",
    "time_not_monotonic": "t_ms decreases somewhere",
    "duration_too_long": f"the trace lasts longer than {MAX_DURATION_MS / 1000:.0f} s",
    "bad_subsamples": "the coalesced sub-events are malformed, too many, or outside their event's interval",
    "bad_event_sequence": "a press is not closed, or not opened, or there is none; a tear is more than one press",
    "mixed_pointer_types": "the events of one press carry different pointer types",
}


class TraceValidationError(ValueError):
    """A trace that breaks the schema; ``code`` is the documented machine-readable reason (:data:`TRACE_CODES`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_STRICT = ConfigDict(extra="forbid", frozen=True)

Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=COORD_MIN, le=COORD_MAX)]
NonNegative = Annotated[float, Field(allow_inf_nan=False, ge=0.0)]


class Point2(BaseModel):
    """A point in task-normalised units."""

    model_config = _STRICT
    x: Coordinate
    y: Coordinate


class Rect(BaseModel):
    """An axis-aligned rectangle in task-normalised units (``x``, ``y`` is the top-left corner)."""

    model_config = _STRICT
    x: Coordinate
    y: Coordinate
    w: Annotated[float, Field(allow_inf_nan=False, gt=0.0, le=1.0)]
    h: Annotated[float, Field(allow_inf_nan=False, gt=0.0, le=1.0)]

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x <= self.x + self.w and self.y <= y <= self.y + self.h


class PerforationTask(BaseModel):
    """Phase A: tear the ticket along its dotted perforation, from ``start`` to ``end``.

    The perforation is a quadratic curve: a straight segment when ``bend`` is 0, otherwise bowed sideways by
    ``bend`` times its length at the midpoint (positive to the right of the start→end direction). A trace
    follows it when its points stay within ``band`` (a half-width, as a fraction of the perforation's length).
    """

    model_config = _STRICT
    kind: Literal["perforation"] = "perforation"
    area_px: tuple[Annotated[int, Field(gt=0, le=10_000)], Annotated[int, Field(gt=0, le=10_000)]]
    start: Point2
    end: Point2
    bend: Annotated[float, Field(allow_inf_nan=False, ge=-0.25, le=0.25)] = 0.0
    band: Annotated[float, Field(allow_inf_nan=False, gt=0.0, le=0.5)] = 0.1

    @model_validator(mode="after")
    def _distinct_ends(self) -> PerforationTask:
        if self.start == self.end:
            raise ValueError("perforation start and end must differ")
        return self


class GridTask(BaseModel):
    """Phase B: drag the target tiles of a 3×3 grid into slots, in the order of their stamped numbers."""

    model_config = _STRICT
    kind: Literal["grid"] = "grid"
    area_px: tuple[Annotated[int, Field(gt=0, le=10_000)], Annotated[int, Field(gt=0, le=10_000)]]
    cells: Annotated[list[Rect], Field(min_length=9, max_length=9)]
    slots: Annotated[list[Rect], Field(min_length=1, max_length=9)]


TaskGeometry = Annotated[PerforationTask | GridTask, Field(discriminator="kind")]


class Viewport(BaseModel):
    """The browser viewport the trace was recorded in (CSS pixels)."""

    model_config = _STRICT
    width_px: Annotated[int, Field(gt=0, le=20_000)]
    height_px: Annotated[int, Field(gt=0, le=20_000)]
    device_pixel_ratio: Annotated[float, Field(allow_inf_nan=False, gt=0.0, le=10.0)] = 1.0


ScreenOffset = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_SCREEN_OFFSET_PX, le=MAX_SCREEN_OFFSET_PX)]
Movement = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_MOVEMENT_PX, le=MAX_MOVEMENT_PX)]
FrameTime = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=MAX_FRAME_MS)]
Unit = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=1.0)]
ContactSize = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=10_000.0)]
Tilt = Annotated[float, Field(allow_inf_nan=False, ge=-90.0, le=90.0)]


class SubSamples(BaseModel):
    """Coalesced sub-events (``PointerEvent.getCoalescedEvents()``) of the events that had two or more.

    ``index`` names the event (into :class:`TracePoints`) each sample belongs to, in non-decreasing order; ``x``,
    ``y`` and ``t_ms`` are in the trace's units. They carry the device's own rate (a mouse's 125-1000 Hz) where the
    events carry at most the display's frame rate.
    """

    model_config = _STRICT
    index: Annotated[list[Annotated[int, Field(ge=0, lt=MAX_POINTS)]], Field(max_length=MAX_SUBSAMPLES)]
    x: Annotated[list[Coordinate], Field(max_length=MAX_SUBSAMPLES)]
    y: Annotated[list[Coordinate], Field(max_length=MAX_SUBSAMPLES)]
    t_ms: Annotated[list[NonNegative], Field(max_length=MAX_SUBSAMPLES)]


class TracePoints(BaseModel):
    """Pointer events, one list per field, all of one length.

    ``pointer_type``, ``trusted`` and ``coalesced`` are the browser's per-event signals (``PointerEvent.pointerType``,
    ``Event.isTrusted`` and ``getCoalescedEvents().length``); recorded data sets that lack them leave them out.

    The integrity evidence (docs/integrity.md) is optional too, per event: ``screen_dx``/``screen_dy`` (``screenX -
    clientX``, ``screenY - clientY``, CSS px), ``movement_x``/``movement_y`` (``movementX/Y``), ``frame_ms`` (how
    long after the last animation frame began the handler ran), and, only in traces with a pen or touch event,
    ``pressure``, ``contact_w``/``contact_h`` (``width``/``height``) and ``tilt_x``/``tilt_y``; ``sub`` holds the
    coalesced sub-events.
    """

    model_config = _STRICT
    x: Annotated[list[Coordinate], Field(max_length=MAX_POINTS)]
    y: Annotated[list[Coordinate], Field(max_length=MAX_POINTS)]
    t_ms: Annotated[list[NonNegative], Field(max_length=MAX_POINTS)]
    event: Annotated[list[EventName], Field(max_length=MAX_POINTS)]
    pointer_type: Annotated[list[PointerType], Field(max_length=MAX_POINTS)] | None = None
    trusted: Annotated[list[bool], Field(max_length=MAX_POINTS)] | None = None
    coalesced: Annotated[list[Annotated[int, Field(ge=0, le=1_000)]], Field(max_length=MAX_POINTS)] | None = (
        None
    )
    screen_dx: Annotated[list[ScreenOffset], Field(max_length=MAX_POINTS)] | None = None
    screen_dy: Annotated[list[ScreenOffset], Field(max_length=MAX_POINTS)] | None = None
    movement_x: Annotated[list[Movement], Field(max_length=MAX_POINTS)] | None = None
    movement_y: Annotated[list[Movement], Field(max_length=MAX_POINTS)] | None = None
    frame_ms: Annotated[list[FrameTime], Field(max_length=MAX_POINTS)] | None = None
    pressure: Annotated[list[Unit], Field(max_length=MAX_POINTS)] | None = None
    contact_w: Annotated[list[ContactSize], Field(max_length=MAX_POINTS)] | None = None
    contact_h: Annotated[list[ContactSize], Field(max_length=MAX_POINTS)] | None = None
    tilt_x: Annotated[list[Tilt], Field(max_length=MAX_POINTS)] | None = None
    tilt_y: Annotated[list[Tilt], Field(max_length=MAX_POINTS)] | None = None
    sub: SubSamples | None = None

    def columns(self) -> list[list[object] | None]:
        """Every optional per-event column (absent ones as ``None``)."""
        return [getattr(self, name) for name in OPTIONAL_COLUMNS]


OPTIONAL_COLUMNS = (
    "pointer_type",
    "trusted",
    "coalesced",
    "screen_dx",
    "screen_dy",
    "movement_x",
    "movement_y",
    "frame_ms",
    "pressure",
    "contact_w",
    "contact_h",
    "tilt_x",
    "tilt_y",
)
# Columns that come only as a pair.
PAIRED_COLUMNS = (("screen_dx", "screen_dy"), ("movement_x", "movement_y"), ("contact_w", "contact_h"))


class EnvReport(BaseModel):
    """What the browser says about itself that tells an automated one (docs/integrity.md).

    ``webdriver`` is ``navigator.webdriver`` (``None`` where the browser lacks it), ``headless`` whether the user
    agent string names a headless browser, ``brands`` the ``navigator.userAgentData`` brand names (the low-entropy
    ones every request already sends in ``Sec-CH-UA``; ``None`` where the browser lacks the API).
    """

    model_config = _STRICT
    webdriver: bool | None = None
    headless: bool = False
    brands: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_BRANDS)] | None = None


class Trace(BaseModel):
    """One answer to one task: the events, the viewport and the task geometry."""

    model_config = _STRICT
    points: TracePoints
    viewport: Viewport
    task: TaskGeometry
    env: EnvReport | None = None

    @model_validator(mode="after")
    def _check_points(self) -> Trace:
        check_points(self.points)
        check_task_presses(self.points, self.task)
        return self

    def arrays(self) -> TraceArrays:
        """The events as numpy arrays (validated already)."""
        return TraceArrays.from_points(self.points)


def check_points(points: TracePoints) -> None:
    """Checks what field types alone cannot: equal lengths, count, time order and a well-formed press sequence.

    Raises:
        TraceValidationError: with code ``length_mismatch``, ``too_few_points``, ``too_many_points``,
            ``time_not_monotonic``, ``duration_too_long``, ``bad_event_sequence``, ``mixed_pointer_types`` or
            (the coalesced sub-events and paired columns) ``bad_subsamples``, ``unpaired_column``.
    """
    n = len(points.x)
    lengths = {len(points.y), len(points.t_ms), len(points.event)} | {
        len(c) for c in points.columns() if c is not None
    }
    if lengths != {n}:
        raise TraceValidationError("length_mismatch", "every point field must have the same length")
    for a, b in PAIRED_COLUMNS:
        if (getattr(points, a) is None) != (getattr(points, b) is None):
            raise TraceValidationError("unpaired_column", f"{a} and {b} come together or not at all")
    if n < MIN_POINTS:
        raise TraceValidationError("too_few_points", f"a trace needs at least {MIN_POINTS} points, got {n}")
    if n > MAX_POINTS:
        raise TraceValidationError("too_many_points", f"a trace holds at most {MAX_POINTS} points, got {n}")
    t = points.t_ms
    if any(b < a for a, b in pairwise(t)):
        raise TraceValidationError("time_not_monotonic", "t_ms must never decrease")
    if t[-1] - t[0] > MAX_DURATION_MS:
        raise TraceValidationError("duration_too_long", f"a trace lasts at most {MAX_DURATION_MS:.0f} ms")
    _check_event_sequence(points.event)
    if points.pointer_type is not None:
        _check_press_pointer_types(points.event, points.pointer_type)
    if points.sub is not None:
        check_subsamples(points.sub, points.t_ms)


def check_subsamples(sub: SubSamples, t_ms: list[float]) -> None:
    """Sub-events belong to events of the trace, in order, at most :data:`MAX_SUB_PER_EVENT` each, and lie in
    time between the previous event and their own (the browser coalesced them into it; 1 ms of rounding slack).

    Raises:
        TraceValidationError: ``bad_subsamples``.
    """
    m = len(sub.index)
    if {len(sub.x), len(sub.y), len(sub.t_ms)} != {m}:
        raise TraceValidationError("bad_subsamples", "every sub-event field must have the same length")
    if m == 0:
        return
    index = np.asarray(sub.index, dtype=np.int64)
    if np.any(np.diff(index) < 0):
        raise TraceValidationError("bad_subsamples", "sub-event indexes must not decrease")
    if index[-1] >= len(t_ms):
        raise TraceValidationError("bad_subsamples", f"sub-event names event {index[-1]}, past the trace")
    if np.bincount(index).max() > MAX_SUB_PER_EVENT:
        raise TraceValidationError("bad_subsamples", f"an event has more than {MAX_SUB_PER_EVENT} sub-events")
    times = np.asarray(t_ms, dtype=np.float64)
    latest = times[index]
    earliest = np.where(index > 0, times[np.maximum(index - 1, 0)], times[0] - MAX_FRAME_MS)
    t = np.asarray(sub.t_ms, dtype=np.float64)
    outside = np.flatnonzero((t < earliest - 1.0) | (t > latest + 1.0))
    if outside.size:
        raise TraceValidationError(
            "bad_subsamples", f"sub-event {outside[0]} lies outside its event's interval"
        )


def _check_event_sequence(events: list[EventName]) -> None:
    """A press (``down``) is closed by ``up`` or ``cancel`` before the next press; at least one press ends."""
    pressed = False
    presses = 0
    for i, name in enumerate(events):
        if name == "down":
            if pressed:
                raise TraceValidationError("bad_event_sequence", f"'down' at {i} while already pressed")
            pressed = True
        elif name in ("up", "cancel"):
            if not pressed:
                raise TraceValidationError("bad_event_sequence", f"'{name}' at {i} without a 'down'")
            pressed = False
            presses += 1
    if pressed:
        raise TraceValidationError("bad_event_sequence", "the last press never ends")
    if presses == 0:
        raise TraceValidationError("bad_event_sequence", "a trace needs at least one press ('down' … 'up')")


def _check_press_pointer_types(events: list[EventName], pointer_types: list[PointerType]) -> None:
    """Every event of a press (``down`` through its ``up`` or ``cancel``) has the press's pointer type.

    A browser reports one pointer per press (a pointer id has one type), and the SDK records one; a press of
    mixed types is made up. Refused because one foreign type in a trace once switched off every pointer tell
    of the integrity layer (review finding 13), and :mod:`tcurity.integrity` judges presses by their type.

    Raises:
        TraceValidationError: ``mixed_pointer_types``.
    """
    press_type: PointerType | None = None
    for i, (name, kind) in enumerate(zip(events, pointer_types, strict=True)):
        if name == "down":
            press_type = kind
        elif press_type is not None and kind != press_type:
            raise TraceValidationError(
                "mixed_pointer_types", f"event {i} is '{kind}' in a press of '{press_type}'"
            )
        if name in ("up", "cancel"):
            press_type = None


def check_task_presses(points: TracePoints, task: PerforationTask | GridTask) -> None:
    """Checks that the presses suit the task: a tear (Phase A) is exactly one press, ``down`` … ``up``.

    The Phase A geometry and features read the first press only, so a further press would be judged by
    nothing while it changed what else the trace is known by (its replay profile). The SDK sends one press:
    a let-go, or a tear its local check refuses, starts the recording afresh. A Phase B answer holds one
    press per slot, which its own check counts (:func:`tcurity.features.phase_b.drags_on_tiles`).

    The moves before a tear's press are its approach to the grip (:mod:`tcurity.features.approach`), at most
    :data:`MAX_APPROACH_POINTS` of them.

    Raises:
        TraceValidationError: ``bad_event_sequence`` for a Phase A trace of more than one press;
            ``too_many_points`` for an approach of more than :data:`MAX_APPROACH_POINTS` moves.
    """
    if isinstance(task, PerforationTask):
        presses = points.event.count("down")
        if presses != 1:
            raise TraceValidationError(
                "bad_event_sequence", f"a tear is exactly one press ('down' … 'up'), got {presses}"
            )
        approach = points.event.index("down")
        if approach > MAX_APPROACH_POINTS:
            raise TraceValidationError(
                "too_many_points",
                f"a tear's approach holds at most {MAX_APPROACH_POINTS} moves before its press, got {approach}",
            )


@dataclass(frozen=True, slots=True)
class TraceArrays:
    """The numeric form of a trace's events: parallel float64/int8 arrays.

    ``x`` and ``y`` are task-normalised, ``t_ms`` milliseconds, ``event`` codes of :class:`Event`.
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    t_ms: NDArray[np.float64]
    event: NDArray[np.int8]

    @classmethod
    def from_points(cls, points: TracePoints) -> TraceArrays:
        return cls(
            x=np.asarray(points.x, dtype=np.float64),
            y=np.asarray(points.y, dtype=np.float64),
            t_ms=np.asarray(points.t_ms, dtype=np.float64),
            event=np.fromiter((EVENT_CODES[e] for e in points.event), dtype=np.int8, count=len(points.event)),
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to_points(self) -> TracePoints:
        """Back to the wire form (used by simulators and datasets that build traces as arrays)."""
        return TracePoints(
            x=self.x.tolist(),
            y=self.y.tolist(),
            t_ms=self.t_ms.tolist(),
            event=[EVENT_NAMES[int(e)] for e in self.event],
        )

    def press_spans(self) -> list[tuple[int, int]]:
        """Index ranges ``[down, up]`` (inclusive) of every press, in order."""
        downs = np.flatnonzero(self.event == Event.DOWN)
        ends = np.flatnonzero((self.event == Event.UP) | (self.event == Event.CANCEL))
        return [(int(d), int(ends[ends > d][0])) for d in downs if np.any(ends > d)]

    def in_pixels(self, area_px: tuple[int, int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Coordinates in CSS pixels of the task area (isotropic, for kinematics)."""
        return self.x * area_px[0], self.y * area_px[1]


def make_trace(
    arrays: TraceArrays,
    task: PerforationTask | GridTask,
    viewport: Viewport | None = None,
) -> Trace:
    """Wraps arrays built by code (datasets, simulators) into a validated :class:`Trace`."""
    if viewport is None:
        viewport = Viewport(width_px=max(task.area_px[0], 1280), height_px=max(task.area_px[1], 800))
    return Trace(points=arrays.to_points(), viewport=viewport, task=task)


def with_browser_signals(trace: Trace, pointer_type: PointerType = "mouse") -> Trace:
    """The trace as the SDK sends a pointer recording: every event trusted, of one pointer type, and a coalesced
    count of 0, which a browser without ``getCoalescedEvents`` sends.

    Datasets and simulators record no browser signals; harnesses that play the SDK over HTTP (tests, the red
    team's HTTP clients, benchmarks) add them, since the AI server flags a trace without them
    (``missing_signals``). They record no input path either, so they claim no coalesced samples and carry no other
    integrity evidence; the integrity layer (:mod:`tcurity.integrity`) still sees what they are, recordings replayed
    (``fractional_steps``, ``slow_moves``), and a site's default policy (``log``) only reports it.
    """
    n = len(trace.points.x)
    points = trace.points.model_copy(
        update={"pointer_type": [pointer_type] * n, "trusted": [True] * n, "coalesced": [0] * n}
    )
    return trace.model_copy(update={"points": points})
