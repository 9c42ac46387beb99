"""Input integrity: whether a trace's events came from a person's input device or were injected by a driver.

The behaviour models judge *how* the pointer moved; this layer judges *what produced* the events, from the
evidence the SDK sends beside the points (docs/integrity.md). Each check below was measured on Debian's Chromium
156 on both input paths (CDP-driven Playwright and a plain headed Chromium moved through XTEST by ``xdotool``,
``tests/fixtures/integrity/``); tells that proved false there (``screenX == clientX``, zero ``movementX/Y``,
events off the animation frame, the ``Runtime``-domain serialisation probe) are not checked.

Pointer tells, each weak alone (a person's setup can produce any one of them):

- ``coalesced_single``: no move held two or more coalesced samples. Chromium hands an event injected over CDP to
  the page with exactly one; a mouse polled faster than the display's frame rate gives two or more. (A 125 Hz
  mouse on a 144 Hz display also gives one: that is why one tell is never enough.)
- ``fractional_steps``: the steps between moves are fractions of a pixel, both in CSS and in device pixels. A
  mouse moves in whole device pixels; a driver moves along computed curves.
- ``sparse_moves``: fewer moves per press than any drag by hand (an agent's ``mouse.move`` without steps).
- ``slow_moves``: the median time between consecutive pressed moves is longer than a hand's mouse gives while it
  moves (one move per animation frame, 17 ms at 60 Hz): a script replaying a recording or a simulator at its own
  low rate (the red team's people and solver bots at ~9 Hz, 110 ms).
- ``exact_centres``: every press of a Phase B answer starts within a fraction of a pixel of its cell's centre.
- ``no_approach``: a tear's mouse press came with fewer than ``min_approach_moves`` moves before it. The SDK records
  the pointer's way to the grip since its last rest; a hand's mouse has to travel there, a script can jump (one
  ``mouse.move`` without steps, one ``xdotool mousemove``). A person who rests on the grip and nudges it once before
  pressing gives it too, which is why it is one tell among several.

``injected_input`` needs at least ``min_tells`` of them. ``automation_env`` is the browser stating that it is
automated: ``navigator.webdriver``, or a headless user agent or brand. Only mouse presses are judged on pointer
tells (each press has one pointer type, :func:`tcurity.traces.check_points`): touch and pen digitisers report fractional positions at their own rates, and the keyboard path has no
pointer events at all. A browser that lacks an API (no ``getCoalescedEvents``: every count 0) leaves that tell
unevaluated, so old browsers are never flagged for what they cannot send.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tcurity.config import IntegrityParams, params
from tcurity.traces import Event, GridTask, PerforationTask, Trace, TraceArrays

NAME = "tcurity-integrity"
REASONS = ("injected_input", "automation_env")
HEADLESS_BRANDS = ("HeadlessChrome",)


@dataclass(frozen=True)
class IntegrityResult:
    """Reason codes (empty when nothing was found), the tells behind them, and which checks could run."""

    reasons: list[str]
    tells: list[str]
    evaluated: list[str] = field(default_factory=list)
    name: str = NAME
    version: str = ""


def mouse_press_spans(trace: Trace, arrays: TraceArrays) -> list[tuple[int, int]]:
    """The ``[down, up]`` spans of the presses made with a mouse (a press has one type: the trace schema's
    ``mixed_pointer_types``); none for a trace without pointer types (the keyboard path)."""
    kinds = trace.points.pointer_type
    if kinds is None:
        return []
    return [(down, up) for down, up in arrays.press_spans() if kinds[down] == "mouse"]


def pressed_mouse_moves(trace: Trace, arrays: TraceArrays | None = None) -> np.ndarray | None:
    """Indexes of the moves inside the trace's mouse presses (``None`` when no press was made with a mouse).

    Judged per press (review finding 13): one touch or pen event anywhere in a trace used to switch off every
    pointer tell for the whole trace. Events outside the presses (hovering) say nothing about it.
    """
    arrays = arrays or trace.arrays()
    spans = mouse_press_spans(trace, arrays)
    if not spans:
        return None
    pressed = np.zeros(len(arrays), dtype=bool)
    for down, up in spans:
        pressed[down + 1 : up] = True
    return np.flatnonzero(pressed & (arrays.event == Event.MOVE))


def coalesced_single(trace: Trace, moves: np.ndarray, p: IntegrityParams) -> bool | None:
    """No pressed move held two or more coalesced samples (``None``: too few moves, or no coalesced API)."""
    counts = np.asarray(trace.points.coalesced or [], dtype=np.int64)
    if counts.size == 0 or moves.size < p.min_moves or not np.any(counts[moves] > 0):
        return None
    return float(np.mean(counts[moves] >= 2)) <= p.max_multi_coalesced_share


def fractional_steps(
    trace: Trace, moves: np.ndarray, p: IntegrityParams, arrays: TraceArrays | None = None
) -> bool | None:
    """Most steps between moves are neither whole CSS pixels nor whole device pixels (``None``: too few steps)."""
    arrays = arrays or trace.arrays()
    width, height = trace.task.area_px
    dpr = trace.viewport.device_pixel_ratio
    moves = moves[moves > 0]
    dx = (arrays.x[moves] - arrays.x[moves - 1]) * width
    dy = (arrays.y[moves] - arrays.y[moves - 1]) * height
    steps = np.concatenate([dx, dy])
    steps = steps[np.abs(steps) > 0.5 * p.whole_px_tolerance]  # an axis that did not move says nothing
    if steps.size < p.min_moves:
        return None
    # Coordinates travel rounded to 1e-5 of the area, so a whole step arrives within about that of an integer.
    tolerance = max(p.whole_px_tolerance, 2e-5 * max(width, height) * max(dpr, 1.0))

    def whole(v: np.ndarray) -> np.ndarray:
        return np.abs(v - np.round(v)) <= tolerance

    fractional = ~(whole(steps) | whole(steps * dpr))
    return float(np.mean(fractional)) >= p.min_fractional_share


def slow_moves(trace: Trace, moves: np.ndarray, p: IntegrityParams, arrays: TraceArrays) -> bool | None:
    """The median interval between consecutive pressed moves exceeds ``max_median_move_interval_ms`` (``None``:
    fewer than three such intervals)."""
    adjacent = np.flatnonzero(np.diff(moves) == 1)
    if adjacent.size < 3:
        return None
    intervals = arrays.t_ms[moves[adjacent + 1]] - arrays.t_ms[moves[adjacent]]
    return float(np.median(intervals)) > p.max_median_move_interval_ms


def sparse_moves(trace: Trace, moves: np.ndarray, p: IntegrityParams, arrays: TraceArrays) -> bool:
    """Fewer pressed moves per mouse press than ``min_moves_per_press``."""
    presses = len(mouse_press_spans(trace, arrays))
    return moves.size < p.min_moves_per_press * presses


def exact_centres(trace: Trace, p: IntegrityParams, arrays: TraceArrays | None = None) -> bool | None:
    """Every press of a Phase B answer (two or more) lands within ``centre_tolerance_px`` of a cell's centre."""
    task = trace.task
    if not isinstance(task, GridTask):
        return None
    arrays = arrays or trace.arrays()
    downs = np.flatnonzero(arrays.event == Event.DOWN)
    if downs.size < 2:
        return None
    width, height = task.area_px
    centres = np.array([cell.centre for cell in task.cells])
    for i in downs:
        dist = np.hypot((centres[:, 0] - arrays.x[i]) * width, (centres[:, 1] - arrays.y[i]) * height)
        if float(dist.min()) > p.centre_tolerance_px:
            return False
    return True


def no_approach(trace: Trace, p: IntegrityParams, arrays: TraceArrays) -> bool | None:
    """A tear's mouse press with fewer than ``min_approach_moves`` moves before it (``None``: not a tear, or its
    press is not a mouse's)."""
    if not isinstance(trace.task, PerforationTask):
        return None
    spans = arrays.press_spans()
    if not spans or (spans[0][0], spans[0][1]) not in mouse_press_spans(trace, arrays):
        return None
    down = spans[0][0]
    return int(np.count_nonzero(arrays.event[:down] == Event.MOVE)) < p.min_approach_moves


def automation_env(trace: Trace) -> bool:
    """The browser says it is automated: ``navigator.webdriver``, or a headless user agent or brand."""
    env = trace.env
    if env is None:
        return False
    headless_brand = any(b in HEADLESS_BRANDS for b in env.brands or [])
    return env.webdriver is True or env.headless or headless_brand


def assess(
    trace: Trace, p: IntegrityParams | None = None, arrays: TraceArrays | None = None
) -> IntegrityResult:
    """The integrity verdict of one trace: ``injected_input`` when at least ``min_tells`` pointer tells agree,
    ``automation_env`` when the environment says so. Never raises on a valid trace.

    Args:
        trace: a validated trace.
        p: the thresholds (default: ``params.yaml``'s ``integrity``).
        arrays: the trace's arrays when the caller has them already (the decisions do), so they are built once.
    """
    p = p or params().integrity
    tells: list[str] = []
    evaluated: list[str] = []
    if trace.points.pointer_type is not None and arrays is None:
        arrays = trace.arrays()
    moves = pressed_mouse_moves(trace, arrays) if arrays is not None else None
    if arrays is not None and moves is not None:
        checks = {
            "coalesced_single": coalesced_single(trace, moves, p),
            "fractional_steps": fractional_steps(trace, moves, p, arrays),
            "sparse_moves": sparse_moves(trace, moves, p, arrays),
            "slow_moves": slow_moves(trace, moves, p, arrays),
            "exact_centres": exact_centres(trace, p, arrays),
            "no_approach": no_approach(trace, p, arrays),
        }
        evaluated = [name for name, found in checks.items() if found is not None]
        tells = [name for name, found in checks.items() if found]
    reasons = ["injected_input"] if len(tells) >= p.min_tells else []
    if trace.env is not None:
        evaluated.append("automation_env")
    if automation_env(trace):
        tells.append("automation_env")
        reasons.append("automation_env")
    return IntegrityResult(reasons=reasons, tells=tells, evaluated=evaluated, version=p.version)
