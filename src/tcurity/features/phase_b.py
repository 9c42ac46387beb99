"""Phase B features: how one whole answer to the grid moved.

A Phase B trace holds, for every target tile, an *approach* (the pointer moving, unpressed, onto the tile) and a
*drag* (``down`` on the tile … ``up`` in its slot), with rests in between. Every approach and every drag is put
on the canonical grid (:mod:`tcurity.sampling`, all of them in one pass) in *cell sides*, so nothing depends on
the screen's size or the device's polling rate, then described by the kinematic measures of Phase A (duration,
mean speed, straightness, speed-profile shape, sub-movements). A drag adds how it homed in on its slot: the
distance travelled after first entering the slot, and the share of its time spent inside the slot before the
release. Each measure is aggregated over the answer's drags (and separately its approaches) as mean, max, min and
standard deviation, so answers of two, three or four targets share one vector.

Per answer: the number of targets; the time to the first press; the rests between releasing one tile and
moving on to the next (mean and coefficient of variation: a script's ``sleep`` is regular, people are not);
the release-to-next-press gaps; how much the pointer wandered over the grid while not dragging (approach path
over approach chord, grid cells passed per target); and whether longer movements take longer (the correlation
of each movement's duration with its index of difficulty, Fitts's law: people obey it, tools that draw a
movement's duration at random do not).

No feature counts events or reads the gaps between them. Times come from presses and releases, which every
device reports when they happen, and from the first event after a release that leaves the release point (a
pointer at rest emits nothing, so that event marks when it moved on, to within one sampling interval: up to
about 110 ms late in the ~9 Hz recordings, a few ms in a browser). An
approach starts at that event, so a rest is never smeared into a slow movement by the grid's interpolation.
Exact press positions (distance from a cell's centre) are left out on purpose: the human positions are drawn
by the adapter and the bots press dead centre, so a model would learn our generators, not people.

Beside these coarse measures, every approach and drag is also put on the *browser* grid (~16.7 ms) and described
by the browser-resolution measures of :mod:`tcurity.features.fine` that :data:`FINE_MOVEMENT_FEATURES` names
(velocity-profile asymmetry, tremor-band energy, jerk, micro-pauses, curvature), aggregated the same way
(``drag_fine_…``, ``approach_fine_…``). They see what a 60 Hz trace holds and a smooth synthetic curve lacks; a
trace recorded at ~9 Hz (Balabit's remote desktop) has no such detail, so they read it as straight segments
(``docs/data.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tcurity.datasets import TraceRecord
from tcurity.features import fine
from tcurity.sampling import DEFAULT_GRID_MS, Path2, SegmentGrid, browser_grid, canonical_grid_segments
from tcurity.task_checks import answer_shape_ok
from tcurity.traces import Event, GridTask, Rect, TraceArrays

MOVEMENT_FEATURES: tuple[str, ...] = (
    "log_duration_s",
    "log_speed",
    "path_efficiency",
    "peak_speed_ratio",
    "speed_cv",
    "t_peak_frac",
    "start_speed_frac",
    "end_speed_frac",
    "dev_max",
    "n_speed_peaks",
)
"""Measures of one approach or drag on the canonical grid (speeds in cell sides per second)."""

SLOT_FEATURES: tuple[str, ...] = ("slot_overshoot", "slot_dwell_frac")
"""Drag-only measures of homing in on the slot."""

AGGREGATES: tuple[str, ...] = ("mean", "max", "min", "std")

ANSWER_FEATURES: tuple[str, ...] = (
    "n_targets",
    "first_press_s",
    "idle_mean_s",
    "idle_cv",
    "gap_mean_s",
    "gap_cv",
    "hover_path_per_chord",
    "hover_cells_per_target",
    "fitts_corr",
)
"""Measures of the whole answer."""

DRAG_FEATURES: tuple[str, ...] = MOVEMENT_FEATURES + SLOT_FEATURES

FINE_MOVEMENT_FEATURES: tuple[str, ...] = (
    "peak_time_frac",
    "tremor_band_ratio",
    "log_norm_jerk",
    "micro_pauses",
    "curv_mean_abs",
)
"""Browser-resolution measures of every approach and drag (:mod:`tcurity.features.fine`), named ``fine_…``.

Chosen on training rows only (SapiMouse's training people against the training bots; ``docs/data.md``,
"Phase B features"): each separates people from at least one humanised family alone (single-feature AUC), and
together they added most in a 3-fold cross-validation grouped by person. ``n_submovements``,
``end_corrections`` and ``curv_sign_changes`` added nothing there; ``hf_band_ratio`` is never used, as the
share of power above 12 Hz moves with the recording rate (``reports/metrics/rate_invariance.json``).
"""

FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"drag_{f}_{a}" for f in DRAG_FEATURES for a in AGGREGATES)
    + tuple(f"approach_{f}_{a}" for f in MOVEMENT_FEATURES for a in AGGREGATES)
    + ANSWER_FEATURES
    + tuple(
        f"{kind}_fine_{f}_{a}"
        for kind in ("drag", "approach")
        for f in FINE_MOVEMENT_FEATURES
        for a in AGGREGATES
    )
)
"""The features, in the order of the vectors :func:`phase_b_features` returns."""

# A pointer within this distance (cell sides) of where it released a tile is still resting there.
REST_RADIUS_CELLS = 0.05
_NEVER = np.iinfo(np.int64).max
# Plain ints (enum lookups cost more than the comparisons); ``event >= _UP`` finds ups and cancels alike.
_DOWN, _UP = int(Event.DOWN), int(Event.UP)


@dataclass(frozen=True, slots=True)
class AnswerSegments:
    """Where an answer's movements lie in its events.

    ``downs[k]``/``ups[k]`` are the event indices of the ``k``-th press and release; the ``k``-th approach runs
    from ``approach_starts[k]`` to ``downs[k]``. ``x`` and ``y`` are the events in cell sides.
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    downs: NDArray[np.intp]
    ups: NDArray[np.intp]
    approach_starts: NDArray[np.intp]
    cell_px: float

    def bounds(self) -> NDArray[np.intp]:
        """``(first, last)`` event indices of approach 0, drag 0, approach 1, drag 1, … (for the grid)."""
        out = np.empty((2 * len(self.downs), 2), dtype=np.intp)
        out[0::2, 0], out[0::2, 1] = self.approach_starts, self.downs
        out[1::2, 0], out[1::2, 1] = self.downs, self.ups
        return out


def cell_side_px(task: GridTask) -> float:
    """The side of a grid cell in pixels: Phase B's unit of length."""
    cell = task.cells[0]
    return float(np.sqrt(cell.w * task.area_px[0] * cell.h * task.area_px[1]))


def answer_segments(task: GridTask, arrays: TraceArrays) -> AnswerSegments:
    """Splits a Phase B trace into its approaches and drags.

    An approach after a release starts at the last event still resting on the release point (within
    :data:`REST_RADIUS_CELLS`) before the pointer leaves it, or at the first event after the release when the
    pointer left at once; the first approach starts with the trace.

    Raises:
        ValueError: when the trace holds no complete press.
    """
    cell = cell_side_px(task)
    x = arrays.x * (task.area_px[0] / cell)
    y = arrays.y * (task.area_px[1] / cell)
    ends = np.flatnonzero(arrays.event >= _UP)  # up or cancel
    downs = np.flatnonzero(arrays.event == _DOWN)
    downs = downs[downs < (ends[-1] if len(ends) else -1)]
    if len(downs) == 0:
        raise ValueError("the trace holds no press")
    ups = ends[np.searchsorted(ends, downs)]
    starts = np.zeros(len(downs), dtype=np.intp)
    if len(downs) > 1:
        is_up = np.zeros(len(x), dtype=bool)
        is_up[ups] = True
        last_up = np.maximum.accumulate(np.where(is_up, np.arange(len(x)), 0))
        away = np.flatnonzero(np.hypot(x - x[last_up], y - y[last_up]) > REST_RADIUS_CELLS)
        after = ups[:-1] + 1
        left = np.append(away, len(x))[np.searchsorted(away, after)]
        starts[1:] = np.minimum(np.maximum(left - 1, after), downs[1:])
    return AnswerSegments(x, y, downs.astype(np.intp), ups.astype(np.intp), starts, cell)


def phase_b_features(
    task: GridTask, arrays: TraceArrays, grid_ms: float = DEFAULT_GRID_MS
) -> NDArray[np.float64]:
    """The feature vector of a Phase B trace, in the order of :data:`FEATURE_NAMES`.

    This is what serving calls for a validated :class:`~tcurity.traces.Trace` whose task is a
    :class:`~tcurity.traces.GridTask`: ``phase_b_features(trace.task, trace.arrays(), bundle.grid_ms)``.

    Raises:
        ValueError: when the trace holds no complete press.
    """
    seg = answer_segments(task, arrays)
    grid = canonical_grid_segments(arrays.t_ms, seg.x, seg.y, seg.bounds(), grid_ms)
    moves = movement_measures(grid)
    answer = answer_measures(task, arrays.t_ms, seg, grid, moves[:, 0])
    # Approaches and drags side by side, (target, approach|drag, measure); approaches have no slot measures.
    n, m = len(seg.downs), len(MOVEMENT_FEATURES)
    both = np.zeros((n, 2, len(DRAG_FEATURES)))
    both[:, :, :m] = moves.reshape(n, 2, m)
    both[:, 1, m:] = slot_measures(grid, task, seg.cell_px)
    stats = aggregate(both)  # (approach|drag, measure, statistic)
    fine = fine_movement_measures(arrays.t_ms, seg, FINE_MOVEMENT_FEATURES).reshape(n, 2, -1)
    fine_stats = aggregate(fine)
    return np.concatenate(
        [stats[1].ravel(), stats[0, :m].ravel(), answer, fine_stats[1].ravel(), fine_stats[0].ravel()]
    )


def fine_movement_measures(
    t_ms: NDArray[np.float64], seg: AnswerSegments, names: Sequence[str] = FINE_MOVEMENT_FEATURES
) -> NDArray[np.float64]:
    """Browser-resolution measures (those ``names`` picks of :data:`tcurity.features.fine.FINE_FEATURE_NAMES`)
    of every approach and drag, in the order approach 0, drag 0, approach 1, …, one row each.

    Each movement's raw events (``seg``'s bounds, in cell sides) are put on the browser grid
    (:func:`tcurity.sampling.browser_grid`, ~16.7 ms) on their own, so a rest between movements never enters
    one; the values are exactly :func:`tcurity.features.fine.fine_features`' (scale-free, in chord lengths), but
    only the named ones are computed: serving pays for what the model reads.

    Raises:
        KeyError: for a name that is not a fine feature.
    """
    measures = [_FINE_MEASURES[n] for n in names]
    rows = np.empty((2 * len(seg.downs), len(measures)))
    for k, (first, last) in enumerate(seg.bounds()):
        path = Path2(t_ms[first : last + 1], seg.x[first : last + 1], seg.y[first : last + 1])
        movement = _FineMovement(fine.in_chord_lengths(browser_grid(path)))
        rows[k] = [measure(movement) for measure in measures]
    return rows


class _FineMovement:
    """One movement on the browser grid in chord lengths, with its curvature statistics computed once."""

    def __init__(self, path: Path2) -> None:
        self.path = path
        self._curvature: tuple[float, int] | None = None

    @property
    def curvature(self) -> tuple[float, int]:
        if self._curvature is None:
            self._curvature = fine.curvature_stats(self.path)
        return self._curvature


_FINE_MEASURES: dict[str, Callable[[_FineMovement], float]] = {
    "n_submovements": lambda m: float(fine.n_submovements(m.path)),
    "end_corrections": lambda m: float(fine.end_corrections(m.path)),
    "peak_time_frac": lambda m: fine.peak_time_frac(m.path),
    "tremor_band_ratio": lambda m: fine.tremor_band_ratio(m.path),
    "hf_band_ratio": lambda m: fine.tremor_band_ratio(m.path, fine.HIGH_BAND_HZ),
    "log_norm_jerk": lambda m: fine.log_norm_jerk(m.path),
    "micro_pauses": lambda m: float(fine.micro_pauses(m.path)),
    "curv_mean_abs": lambda m: m.curvature[0],
    "curv_sign_changes": lambda m: m.curvature[1] / (max(m.path.duration_ms, 1.0) / 1000.0),
}
"""Each of :data:`tcurity.features.fine.FINE_FEATURE_NAMES` as :func:`tcurity.features.fine.fine_features`
computes it (``tests/features/test_phase_b.py`` checks they agree)."""


def aggregate(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean, max, min and (population) standard deviation over the first axis, as a new last axis."""
    n = rows.shape[0]
    mean = np.add.reduce(rows) / n
    var = np.maximum(np.add.reduce(rows * rows) / n - mean * mean, 0.0)
    return np.stack([mean, np.maximum.reduce(rows), np.minimum.reduce(rows), np.sqrt(var)], axis=-1)


def movement_measures(grid: SegmentGrid) -> NDArray[np.float64]:
    """:data:`MOVEMENT_FEATURES` of every segment of the grid, one row each.

    The measures of :mod:`tcurity.features.kinematics` (as Phase A uses them), computed for all segments at
    once: segment ``k``'s steps are ``starts[k] … ends[k] - 1``, and the step from its end to the next segment's
    start is zeroed so that sums and maxima over ``starts[k] … starts[k + 1] - 1`` see only the segment.
    """
    t, x, y = grid.t_ms, grid.x, grid.y
    first, last, counts = grid.starts, grid.ends, grid.counts
    n_steps = counts - 1
    cross = last[:-1]
    step = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1])
    step[cross] = 0.0
    dt_ms = t[1:] - t[:-1]
    speed = step / np.maximum(dt_ms, 1e-3) * 1000.0
    peak = np.maximum.reduceat(speed, first)
    mean = np.add.reduceat(speed, first) / n_steps
    std = np.sqrt(np.maximum(np.add.reduceat(speed * speed, first) / n_steps - mean * mean, 0.0))
    path = np.add.reduceat(step, first)
    duration_s = (t[last] - t[first]) / 1000.0
    peak_at = peak.repeat(counts)[:-1]
    first_peak = np.minimum.reduceat(np.where(speed >= peak_at, np.arange(len(speed)), _NEVER), first)
    moving, safe_peak = peak > 0, np.where(peak > 0, peak, 1.0)
    across, chord = _across_chord(grid)
    out = np.empty((len(first), len(MOVEMENT_FEATURES)))
    out[:, 0] = np.log10(np.maximum(duration_s, 1e-3))
    out[:, 1] = np.log10(np.maximum(path / np.maximum(duration_s, 1e-3), 1e-3))
    out[:, 2] = np.where(path > 0, chord / np.where(path > 0, path, 1.0), 1.0)
    out[:, 3] = np.where(mean > 0, peak / np.where(mean > 0, mean, 1.0), 1.0)
    out[:, 4] = np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), 0.0)
    out[:, 5] = (first_peak - first + 0.5) / n_steps
    out[:, 6] = np.where(moving, speed[first] / safe_peak, 1.0)
    out[:, 7] = np.where(moving, speed[last - 1] / safe_peak, 1.0)
    out[:, 8] = np.where(chord > 0, np.maximum.reduceat(np.abs(across), first), 0.0)
    out[:, 9] = _speed_peaks(speed, peak_at, first)
    return out


def _speed_peaks(
    speed: NDArray[np.float64], peak_at: NDArray[np.float64], first: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Local maxima of each segment's speed at least a fifth of its peak (:func:`kinematics.count_peaks`).

    A plateau counts once, at its first step; the zeroed steps between segments bound every segment, so a
    segment's first and last steps count when they lie above their one neighbour.
    """
    tol = 1e-9 * peak_at
    before = np.concatenate([[0.0], speed[:-1]])
    after = np.concatenate([speed[1:], [0.0]])
    top = (speed > before + tol) & (speed >= after - tol) & (speed >= 0.2 * peak_at) & (speed > 0)
    return np.asarray(np.add.reduceat(top, first), dtype=np.float64)


def _across_chord(grid: SegmentGrid) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every instant's signed distance from its segment's chord (in chord lengths, positive towards the normal
    ``(-dy, dx)``; zero for a zero-length chord), and each segment's chord length."""
    first, last, seg = grid.starts, grid.ends, grid.segment_ids
    cx, cy = grid.x[last] - grid.x[first], grid.y[last] - grid.y[first]
    chord = np.hypot(cx, cy)
    norm = np.where(chord > 0, chord * chord, np.inf)
    rx, ry = grid.x - grid.x[first][seg], grid.y - grid.y[first][seg]
    return ry * (cx / norm)[seg] - rx * (cy / norm)[seg], chord


def _rects(rects: Sequence[Rect], area_px: tuple[int, int], cell_px: float) -> NDArray[np.float64]:
    """Rectangles as rows ``(x0, y0, x1, y1)`` in cell sides."""
    sx, sy = area_px[0] / cell_px, area_px[1] / cell_px
    return np.array([(r.x * sx, r.y * sy, (r.x + r.w) * sx, (r.y + r.h) * sy) for r in rects])


def _inside(x: NDArray[np.float64], y: NDArray[np.float64], rects: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each point lies in each rectangle, shape ``(len(x), len(rects))``."""
    return np.asarray(
        (x[:, None] >= rects[:, 0])
        & (x[:, None] <= rects[:, 2])
        & (y[:, None] >= rects[:, 1])
        & (y[:, None] <= rects[:, 3]),
        dtype=np.bool_,
    )


def _segment_points(grid: SegmentGrid, which: slice) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Grid indices of the instants of some segments, back to back, and where each segment starts among them."""
    first, counts = grid.starts[which], grid.counts[which]
    local_first = np.concatenate([[0], counts.cumsum()[:-1]]).astype(np.intp)
    return (first - local_first).repeat(counts) + np.arange(int(counts.sum())), local_first


def slot_measures(grid: SegmentGrid, task: GridTask, cell_px: float) -> NDArray[np.float64]:
    """:data:`SLOT_FEATURES` of every drag (the grid's odd segments), one row each.

    The slot a drag homes in on is the one whose centre is nearest its release. A drag that never enters it
    gets zeros.
    """
    slots = _rects(task.slots, task.area_px, cell_px)
    first, last = grid.starts[1::2], grid.ends[1::2]
    centres = (slots[:, :2] + slots[:, 2:]) / 2.0
    target = np.argmin(
        np.hypot(grid.x[last][:, None] - centres[:, 0], grid.y[last][:, None] - centres[:, 1]), axis=1
    )
    idx, local_first = _segment_points(grid, slice(1, None, 2))
    owner = target.repeat(grid.counts[1::2])
    inside = _inside(grid.x[idx], grid.y[idx], slots)[np.arange(len(idx)), owner]
    entered = np.minimum.reduceat(np.where(inside, idx, _NEVER), local_first)
    found = entered != _NEVER
    at = np.where(found, entered, last)
    step = np.hypot(grid.x[1:] - grid.x[:-1], grid.y[1:] - grid.y[:-1])
    travelled = np.concatenate([[0.0], step.cumsum()])
    duration = grid.t_ms[last] - grid.t_ms[first]
    out = np.zeros((len(first), len(SLOT_FEATURES)))
    out[:, 0] = np.where(found, travelled[last] - travelled[at], 0.0)
    out[:, 1] = np.where(
        found, (grid.t_ms[last] - grid.t_ms[at]) / np.where(duration > 0, duration, 1.0), 0.0
    )
    return out


def answer_measures(
    task: GridTask,
    t_ms: NDArray[np.float64],
    seg: AnswerSegments,
    grid: SegmentGrid,
    log_duration_s: NDArray[np.float64],
) -> NDArray[np.float64]:
    """:data:`ANSWER_FEATURES` of one answer (``log_duration_s``: every movement's, in grid order)."""
    n = len(seg.downs)
    idle_s = (t_ms[seg.approach_starts[1:]] - t_ms[seg.ups[:-1]]) / 1000.0
    gap_s = (t_ms[seg.downs[1:]] - t_ms[seg.ups[:-1]]) / 1000.0
    idx, local_first = _segment_points(grid, slice(0, None, 2))
    hx, hy = grid.x[idx], grid.y[idx]
    visited = _inside(hx, hy, _rects(task.cells, task.area_px, seg.cell_px)).any(axis=0)
    step = np.hypot(hx[1:] - hx[:-1], hy[1:] - hy[:-1])
    step[local_first[1:] - 1] = 0.0  # the step from one approach's end to the next one's start
    first, last = grid.starts, grid.ends
    chord = np.hypot(grid.x[last] - grid.x[first], grid.y[last] - grid.y[first])
    hover_chord = float(chord[0::2].sum())
    return np.array(
        [
            float(n),
            float(t_ms[seg.downs[0]] - t_ms[0]) / 1000.0,
            *_mean_cv(idle_s),
            *_mean_cv(gap_s),
            float(step.sum()) / hover_chord if hover_chord > 0 else 1.0,
            float(visited.sum()) / n,
            _correlation(np.log2(chord + 1.0), log_duration_s),
        ],
        dtype=np.float64,
    )


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Pearson correlation, 0 when either side does not vary."""
    da, db = a - np.add.reduce(a) / len(a), b - np.add.reduce(b) / len(b)
    denom = math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db)))
    return float(np.dot(da, db)) / denom if denom > 1e-12 else 0.0


def _mean_cv(values: NDArray[np.float64]) -> tuple[float, float]:
    """Mean and coefficient of variation (0 for fewer than two values or a zero mean).

    Plain Python: an answer has at most three rests, far too few for numpy to pay off.
    """
    v = values.tolist()
    if not v:
        return 0.0, 0.0
    mean = sum(v) / len(v)
    if len(v) < 2 or mean <= 0:
        return mean, 0.0
    return mean, math.sqrt(sum((a - mean) ** 2 for a in v) / len(v)) / mean


def feature_table(records: Sequence[TraceRecord], grid_ms: float, sampling: str = "native") -> pd.DataFrame:
    """One row per Phase B trace: identity, labels, whether the answer has the right shape, and the features.

    ``sampling`` records how the traces were emitted (``native`` for the source's own rate, ``human`` for bots
    re-emitted with the humans' sampling process).
    """
    rows = []
    for r in records:
        if not isinstance(r.task, GridTask):
            raise TypeError(f"trace {r.trace_id} is not a Phase B trace")
        rows.append(
            {
                "trace_id": r.trace_id,
                "source": r.source,
                "family": r.family,
                "user": r.user,
                "split": r.split,
                "sampling": sampling,
                "geometry_passed": answer_shape_ok(r.task, r.arrays),
                **dict(zip(FEATURE_NAMES, phase_b_features(r.task, r.arrays, grid_ms), strict=True)),
            }
        )
    return pd.DataFrame(rows)
