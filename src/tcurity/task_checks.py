"""Whether an answer does the task it was given: the one owner of every task check and of its reason code.

Phase A asks for a tear along the perforation (:func:`check_follow`). Phase B asks for the named pictures dragged
into the numbered slots: the drags must have the shape of an answer (:func:`answer_shape_ok`), drag ``k`` must have
moved the ``k``-th submitted tile (:func:`drags_on_tiles`), and the submitted tiles must be the answer, in order
(:func:`tiles_in_order`). The backend runs them all before (or, for the tile order, after) the behaviour model;
the AI server reports the geometry it can see without the problem's answer; training filters its rows with the
same functions. The SDK runs the follow check in TypeScript before sending a tear, with the thresholds below
generated into ``web/sdk/src/vocabulary.ts``; the shared vectors of ``tests/fixtures/task_checks/`` hold the two
to the same verdicts.

Every computation here is in task-area pixels (isotropic) or in the task-normalised units of the trace schema.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcurity.geometry import perforation_polyline, project_onto_polyline
from tcurity.traces import GridTask, PerforationTask, TraceArrays

# The follow check's thresholds: a tear covers this share of the perforation's length inside the band, keeps
# this share of its points inside the band, and begins within this many band widths of the start.
FOLLOW_MIN_COVERAGE = 0.85
FOLLOW_MIN_INSIDE_SHARE = 0.9
FOLLOW_MAX_START_BANDS = 3.0

# Why the follow check fails a tear (``FollowCheck.reason``), in the order it looks.
FOLLOW_REASONS: dict[str, str] = {
    "no_press": "the trace holds no complete press",
    "off_start": f"the press begins more than {FOLLOW_MAX_START_BANDS:g} band widths from the perforation's start",
    "low_coverage": f"the press covers less than {FOLLOW_MIN_COVERAGE:.0%} of the perforation inside the band",
    "off_band": f"fewer than {FOLLOW_MIN_INSIDE_SHARE:.0%} of the press's points lie inside the band",
}

# The reason codes of the Phase B checks.
ANSWER_SHAPE = "geometry_answer_shape"
DRAG_NOT_ON_TILE = "drag_not_on_tile"
WRONG_ANSWER = "wrong_answer"

# The reason codes the task checks give an answer (siteverify's ``reasons``, the block metrics).
REASONS: dict[str, str] = {
    **{f"geometry_{reason}": f"Phase A: {text}" for reason, text in FOLLOW_REASONS.items()},
    ANSWER_SHAPE: "Phase B: the drags are not one per slot, each from a grid cell into its own slot",
    DRAG_NOT_ON_TILE: "Phase B: drag k did not move the k-th submitted tile from its cell into slot k",
    WRONG_ANSWER: "Phase B: the submitted tiles are not the answer, in order",
}


@dataclass(frozen=True, slots=True)
class FollowCheck:
    """How well one press followed the perforation (the geometry gate before any model)."""

    coverage: float  # share of the perforation's length the press travelled along, 0..1
    inside_share: float  # share of the press's points within the band
    max_offset: float  # largest distance from the line, in perforation lengths
    start_offset: float  # distance of the press's first point from the perforation's start, in lengths
    passed: bool
    reason: str | None  # a key of FOLLOW_REASONS, or None

    @property
    def code(self) -> str | None:
        """The reason code of a failed tear (``geometry_<reason>``, a key of :data:`REASONS`), else None."""
        return None if self.reason is None else f"geometry_{self.reason}"


def check_follow(task: PerforationTask, arrays: TraceArrays) -> FollowCheck:
    """Checks that the trace's first press tears along the perforation from start to end.

    The press must begin near the start (within :data:`FOLLOW_MAX_START_BANDS` band widths), travel along at
    least :data:`FOLLOW_MIN_COVERAGE` of the line's length towards the end, and keep
    :data:`FOLLOW_MIN_INSIDE_SHARE` of its points inside the band.
    """
    spans = arrays.press_spans()
    if not spans:
        return FollowCheck(0.0, 0.0, float("inf"), float("inf"), False, "no_press")
    lo, hi = spans[0]
    px, py = arrays.in_pixels(task.area_px)
    line = perforation_polyline(task)
    s, offset = project_onto_polyline(line, px[lo : hi + 1], py[lo : hi + 1])
    return follow_of_projection(task, line, (float(px[lo]), float(py[lo])), s, offset)


def follow_of_projection(
    task: PerforationTask,
    line: NDArray[np.float64],
    first: tuple[float, float],
    s: NDArray[np.float64],
    offset: NDArray[np.float64],
) -> FollowCheck:
    """The follow check of a press already projected onto the perforation's ``line``: ``first`` is the press's
    first point in pixels, ``s`` and ``offset`` what :func:`tcurity.geometry.project_onto_polyline` gave for its
    points.

    :func:`check_follow` projects the press itself; Phase A's scoring projects the press together with its
    resampled path in one call (:func:`tcurity.features.phase_a.phase_a_evidence`) and judges it here, so the
    geometry gate and the features share one pass.
    """
    length = float(np.sum(np.hypot(*np.diff(line, axis=0).T)))
    rel_offset = np.abs(offset) / length
    start_offset = float(np.hypot(first[0] - line[0, 0], first[1] - line[0, 1]) / length)
    inside = rel_offset <= task.band
    coverage = float(np.max(np.where(inside, s, 0.0)) - min(float(s[0]), 1.0)) if inside.any() else 0.0
    inside_share = float(np.mean(inside))
    reason = None
    if start_offset > FOLLOW_MAX_START_BANDS * task.band:
        reason = "off_start"
    elif coverage < FOLLOW_MIN_COVERAGE:
        reason = "low_coverage"
    elif inside_share < FOLLOW_MIN_INSIDE_SHARE:
        reason = "off_band"
    return FollowCheck(
        coverage=max(coverage, 0.0),
        inside_share=inside_share,
        max_offset=float(np.max(rel_offset)),
        start_offset=start_offset,
        passed=reason is None,
        reason=reason,
    )


def answer_shape_ok(task: GridTask, arrays: TraceArrays) -> bool:
    """Whether a Phase B trace has the shape of a complete answer (``geometry_answer_shape`` when not): one press
    per slot, each starting (its ``down``) on a grid cell, the ``k``-th ending (its ``up``) in slot ``k``.

    It knows no tiles, only cells, so the AI server (which never sees the problem's answer) can check it; which
    cells is :func:`drags_on_tiles`.
    """
    spans = arrays.press_spans()
    if len(spans) != len(task.slots):
        return False
    x, y = arrays.x, arrays.y
    return all(
        any(cell.contains(x[down], y[down]) for cell in task.cells) and task.slots[k].contains(x[up], y[up])
        for k, (down, up) in enumerate(spans)
    )


def drags_on_tiles(task: GridTask, arrays: TraceArrays, cells: Sequence[int]) -> bool:
    """Whether a Phase B answer moved the tiles it names (``drag_not_on_tile`` when not): exactly one press per
    slot, the ``k``-th starting (its ``down``) in cell ``cells[k]`` (the grid position of the ``k``-th submitted
    tile) and ending (its ``up``) in slot ``k``.

    This binds the drags to the submitted tile ids. Tiles sit at fresh random positions in every problem, so
    the drags of an old answer do not fit a new one (security review 1b).
    """
    spans = arrays.press_spans()
    if not len(cells) == len(spans) == len(task.slots) or not all(0 <= c < len(task.cells) for c in cells):
        return False
    x, y = arrays.x, arrays.y
    return all(
        task.cells[cell].contains(x[down], y[down]) and task.slots[k].contains(x[up], y[up])
        for k, (cell, (down, up)) in enumerate(zip(cells, spans, strict=True))
    )


def tiles_in_order(expected: Sequence[str], submitted: Sequence[str]) -> bool:
    """Whether the submitted tile ids are exactly the answer, in number order (``wrong_answer`` when not).

    Compared in constant time in the content, so the answer's latency does not tell how much of it was right.
    """
    return hmac.compare_digest("\n".join(submitted).encode(), "\n".join(expected).encode())
