"""Task geometry: the Phase A perforation and the Phase B grid, their random layouts, and the follow check.

Every computation here happens in task-area pixels (isotropic), converted from the task-normalised units of
the trace schema, so a diagonal is as long as it looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcurity.traces import GridTask, PerforationTask, Point2, Rect, TraceArrays

# Default sizes of the task areas in CSS pixels (the SDK draws them at this size on a desktop).
TICKET_AREA_PX: tuple[int, int] = (640, 260)
GRID_AREA_PX: tuple[int, int] = (420, 560)
_POLYLINE_SEGMENTS = 64


def perforation_length_px(task: PerforationTask) -> float:
    """Length of the perforation's chord (start to end) in pixels: the unit of Phase A's scale-free features."""
    w, h = task.area_px
    return float(np.hypot((task.end.x - task.start.x) * w, (task.end.y - task.start.y) * h))


def perforation_polyline(task: PerforationTask, segments: int = _POLYLINE_SEGMENTS) -> NDArray[np.float64]:
    """Points along the perforation in pixels, shape ``(segments + 1, 2)``, from start to end.

    The curve is a quadratic Bézier whose midpoint lies ``bend × length`` to the side of the chord, towards the
    normal ``(-dy, dx)`` of the start→end direction.
    """
    w, h = task.area_px
    start = np.array([task.start.x * w, task.start.y * h])
    end = np.array([task.end.x * w, task.end.y * h])
    chord = end - start
    length = float(np.hypot(*chord))
    normal = np.array([-chord[1], chord[0]]) / length
    control = (start + end) / 2.0 + 2.0 * task.bend * length * normal
    s = np.linspace(0.0, 1.0, segments + 1)[:, None]
    return np.asarray((1 - s) ** 2 * start + 2 * s * (1 - s) * control + s**2 * end, dtype=np.float64)


def project_onto_polyline(
    line: NDArray[np.float64], px: NDArray[np.float64], py: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Projects points onto a polyline.

    Returns:
        ``(s, offset)``: the arc-length position of each point's nearest polyline point as a fraction of the
        polyline's length (0 at its start, 1 at its end), and the signed distance in pixels (positive towards
        the normal ``(-dy, dx)`` of the local direction).
    """
    a = line[:-1]
    seg = line[1:] - a
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    pts = np.stack([px, py], axis=1)[:, None, :]
    rel = pts - a[None, :, :]
    u = np.clip((rel * seg[None]).sum(-1) / np.maximum(seg_len**2, 1e-12), 0.0, 1.0)
    nearest = a[None] + u[..., None] * seg[None]
    dist = np.hypot(*(pts - nearest).transpose(2, 0, 1))
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(px))
    cross = seg[best, 0] * rel[rows, best, 1] - seg[best, 1] * rel[rows, best, 0]
    s = (cum[best] + u[rows, best] * seg_len[best]) / cum[-1]
    # Points on the line's extension beyond an end have no cross product but a distance all the same.
    return s, np.where(cross < 0, -1.0, 1.0) * dist[rows, best]


def bend_along(
    task: PerforationTask, x_px: NDArray[np.float64], y_px: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shifts points that follow the chord so they follow the task's bent perforation instead."""
    return _bend(task, x_px, y_px, 1.0)


def unbend_along(
    task: PerforationTask, x_px: NDArray[np.float64], y_px: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The inverse of :func:`bend_along`: points that follow the bent perforation, moved to follow its chord.

    Exact: the shift is along the chord's normal, so it leaves each point's position along the chord (which
    sets the shift) as it was.
    """
    return _bend(task, x_px, y_px, -1.0)


def _bend(
    task: PerforationTask, x_px: NDArray[np.float64], y_px: NDArray[np.float64], sign: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if task.bend == 0.0:
        return x_px, y_px
    w, h = task.area_px
    start = np.array([task.start.x * w, task.start.y * h])
    chord = np.array([task.end.x * w, task.end.y * h]) - start
    length = float(np.hypot(*chord))
    along = np.clip(((x_px - start[0]) * chord[0] + (y_px - start[1]) * chord[1]) / length**2, 0.0, 1.0)
    normal = np.array([-chord[1], chord[0]]) / length
    shift = sign * 4.0 * task.bend * length * along * (1.0 - along)
    return x_px + shift * normal[0], y_px + shift * normal[1]


@dataclass(frozen=True, slots=True)
class FollowCheck:
    """How well one press followed the perforation (the backend's geometry gate before any model)."""

    coverage: float  # share of the perforation's length the press travelled along, 0..1
    inside_share: float  # share of the press's points within the band
    max_offset: float  # largest distance from the line, in perforation lengths
    start_offset: float  # distance of the press's first point from the perforation's start, in lengths
    passed: bool
    reason: str | None  # "no_press" | "off_start" | "low_coverage" | "off_band" | None


def check_follow(
    task: PerforationTask,
    arrays: TraceArrays,
    min_coverage: float = 0.85,
    min_inside_share: float = 0.9,
) -> FollowCheck:
    """Checks that the trace's first press tears along the perforation from start to end.

    The press must begin near the start (within three band widths), travel along at least ``min_coverage`` of
    the line's length towards the end, and keep ``min_inside_share`` of its points inside the band.
    """
    spans = arrays.press_spans()
    if not spans:
        return FollowCheck(0.0, 0.0, float("inf"), float("inf"), False, "no_press")
    lo, hi = spans[0]
    px, py = arrays.in_pixels(task.area_px)
    line = perforation_polyline(task)
    s, offset = project_onto_polyline(line, px[lo : hi + 1], py[lo : hi + 1])
    first = (float(px[lo]), float(py[lo]))
    return follow_of_projection(task, line, first, s, offset, min_coverage, min_inside_share)


def follow_of_projection(
    task: PerforationTask,
    line: NDArray[np.float64],
    first: tuple[float, float],
    s: NDArray[np.float64],
    offset: NDArray[np.float64],
    min_coverage: float = 0.85,
    min_inside_share: float = 0.9,
) -> FollowCheck:
    """The follow check of a press already projected onto the perforation's ``line``: ``first`` is the press's
    first point in pixels, ``s`` and ``offset`` what :func:`project_onto_polyline` gave for its points.

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
    if start_offset > 3 * task.band:
        reason = "off_start"
    elif coverage < min_coverage:
        reason = "low_coverage"
    elif inside_share < min_inside_share:
        reason = "off_band"
    return FollowCheck(
        coverage=max(coverage, 0.0),
        inside_share=inside_share,
        max_offset=float(np.max(rel_offset)),
        start_offset=start_offset,
        passed=reason is None,
        reason=reason,
    )


def random_perforation(
    rng: np.random.Generator, area_px: tuple[int, int] = TICKET_AREA_PX
) -> PerforationTask:
    """A perforation as the ticket shows it: near-vertical, at a random position of the stub, slightly bent.

    It runs top to bottom across most of the ticket's height, tilted by at most 4 degrees.
    """
    w, h = area_px
    x_top = rng.uniform(0.55, 0.8)
    y_top, y_bottom = rng.uniform(0.06, 0.12), rng.uniform(0.88, 0.94)
    tilt_px = np.tan(np.radians(rng.uniform(-4.0, 4.0))) * (y_bottom - y_top) * h
    return PerforationTask(
        area_px=area_px,
        start=Point2(x=x_top, y=y_top),
        end=Point2(x=x_top + tilt_px / w, y=y_bottom),
        bend=float(rng.uniform(-0.04, 0.04)),
        band=0.1,
    )


def grid_layout(n_slots: int, area_px: tuple[int, int] = GRID_AREA_PX) -> GridTask:
    """The Phase B layout: a 3×3 grid of square cells on top, a row of ``n_slots`` slots below it.

    Cells are numbered row by row (0 top-left … 8 bottom-right); slots left to right.
    """
    if not 1 <= n_slots <= 9:
        raise ValueError(f"n_slots must be in 1..9, got {n_slots}")
    w, h = area_px
    margin_px, gap_px = 12.0, 8.0
    cell_px = (w - 2 * margin_px - 2 * gap_px) / 3.0
    cells = [
        Rect(
            x=(margin_px + col * (cell_px + gap_px)) / w,
            y=(margin_px + row * (cell_px + gap_px)) / h,
            w=cell_px / w,
            h=cell_px / h,
        )
        for row in range(3)
        for col in range(3)
    ]
    slot_px = min(cell_px * 0.8, (w - 2 * margin_px - (n_slots - 1) * gap_px) / n_slots)
    row_width = n_slots * slot_px + (n_slots - 1) * gap_px
    top = margin_px + 3 * cell_px + 2 * gap_px + 2 * margin_px
    slots = [
        Rect(x=((w - row_width) / 2 + i * (slot_px + gap_px)) / w, y=top / h, w=slot_px / w, h=slot_px / h)
        for i in range(n_slots)
    ]
    return GridTask(area_px=area_px, cells=cells, slots=slots)


GridMove = tuple[int, int]


def drags_on_tiles(task: GridTask, arrays: TraceArrays, cells: Sequence[int]) -> bool:
    """Whether a Phase B answer moved the tiles it names: exactly one press per slot, the ``k``-th starting (its
    ``down``) in cell ``cells[k]`` (the grid position of the ``k``-th submitted tile) and ending (its ``up``) in
    slot ``k``.

    This binds the drags to the submitted tile ids. Tiles sit at fresh random positions in every problem, so
    the drags of an old answer do not fit a new one (security review 1b). The features' own shape check
    (:func:`tcurity.features.phase_b.answer_shape_ok`) knows no tiles, only cells.
    """
    spans = arrays.press_spans()
    if not len(cells) == len(spans) == len(task.slots) or not all(0 <= c < len(task.cells) for c in cells):
        return False
    x, y = arrays.x, arrays.y
    return all(
        task.cells[cell].contains(x[down], y[down]) and task.slots[k].contains(x[up], y[up])
        for k, (cell, (down, up)) in enumerate(zip(cells, spans, strict=True))
    )


def random_grid_answer(
    rng: np.random.Generator, min_targets: int, max_targets: int, area_px: tuple[int, int] = GRID_AREA_PX
) -> tuple[GridTask, list[GridMove]]:
    """A Phase B layout and its answer as served: 2–4 distinct target cells, dragged to the slots in order.

    Returns:
        The layout with one slot per target and the ``(cell_index, slot_index)`` moves in answer order (the
        ``k``-th target by stamped number goes to slot ``k``).
    """
    n = int(rng.integers(min_targets, max_targets + 1))
    cells = rng.choice(9, size=n, replace=False)
    return grid_layout(n, area_px), [(int(cell), k) for k, cell in enumerate(cells)]
