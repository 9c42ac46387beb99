"""The approach: how the pointer travelled to the tear's grip before pressing it.

The SDK records the pointer from the moment the challenge opens (and again after each let-go) up to the press on
the grip, as ``move`` events before the trace's ``down``. That stretch is a *pointing movement*: the pointer leaves
rest and homes in on a small target, exactly what both human data sets hold most of (:mod:`tcurity.data.strokes`
calls them pointing strokes). Unlike the tear, whose length the task sets, the approach's distance and duration are
the person's own, so its speed-accuracy trade-off (Fitts) is visible here.

The approach is cut from a trace by the rule the data sets are cut by: it starts at the last ``move`` that follows
a rest of more than ``max_pause_ms`` (or at the first recorded move) and ends at the press (at its last move when
the pointer rested on the grip before pressing). It is *judged* when it holds at least ``min_points`` events and
covers at least ``min_chord_px``; a pointer already
resting near the grip gives nothing to judge, and a trace with no move at all before a mouse press is the
integrity layer's business (tell ``no_approach``, :mod:`tcurity.integrity`), not this model's.

Its features are Phase A's own measures (:func:`tcurity.features.phase_a.features_of_press`) taken in the frame of
the approach's chord (from where it started to the press) instead of the perforation, prefixed ``approach_``, plus
the chord's length in CSS pixels (``approach_log_chord_px``), which with the duration gives Fitts compliance.
Training (``pipelines/featurize.py``) and serving (``serving/decisions.py``) both call :func:`approach_features`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tcurity.config import ApproachLimits
from tcurity.datasets import TraceRecord
from tcurity.features import kinematics as km
from tcurity.features.phase_a import FEATURE_NAMES as TEAR_FEATURE_NAMES
from tcurity.features.phase_a import PressPath, features_of_press
from tcurity.sampling import DEFAULT_GRID_MS, Path2, canonical_grid
from tcurity.traces import Event, PerforationTask, TraceArrays

APPROACH_PREFIX = "approach_"
APPROACH_FEATURE_NAMES: tuple[str, ...] = (
    *(APPROACH_PREFIX + n for n in TEAR_FEATURE_NAMES),
    "approach_log_chord_px",
)
"""The approach's features, in the order of the vectors :func:`approach_features` returns."""


def approach_path(arrays: TraceArrays, area_px: tuple[int, int], limits: ApproachLimits) -> Path2 | None:
    """The approach to the first press, in CSS pixels of the task area and the trace's ms, ending at the press.

    Returns ``None`` when there is nothing to judge: no press, fewer than ``limits.min_points`` events from the
    approach's start to the press, or a chord under ``limits.min_chord_px``.
    """
    downs = np.flatnonzero(arrays.event == Event.DOWN)
    if downs.size == 0:
        return None
    down = int(downs[0])
    moves = np.flatnonzero(arrays.event[:down] == Event.MOVE)
    if moves.size == 0 or moves[-1] != down - 1:
        return None
    t = arrays.t_ms
    start = int(moves[0])
    for i in range(down - 1, int(moves[0]), -1):
        if t[i] - t[i - 1] > limits.max_pause_ms or arrays.event[i - 1] != Event.MOVE:
            start = i
            break
    px, py = arrays.in_pixels(area_px)
    path = Path2(t[start : down + 1], px[start : down + 1], py[start : down + 1])
    return judged(path, limits)


def judged(path: Path2, limits: ApproachLimits) -> Path2 | None:
    """A pointing movement that ends at a press, as the approach layer judges it, or ``None`` when too small.

    A rest at the grip before pressing (a last gap over ``max_pause_ms``) is not part of the movement: the press
    is then dropped and the movement ends at its last move. Data sets' pointing strokes go through here too, so
    people's training approaches and live ones are cut alike.
    """
    if len(path) >= 2 and path.t_ms[-1] - path.t_ms[-2] > limits.max_pause_ms:
        path = Path2(path.t_ms[:-1], path.x[:-1], path.y[:-1])
    if len(path) < limits.min_points:
        return None
    if np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]) < limits.min_chord_px:
        return None
    return path


def approach_features(path: Path2, grid_ms: float = DEFAULT_GRID_MS) -> NDArray[np.float64]:
    """The feature vector of an approach (:func:`approach_path`), in the order of :data:`APPROACH_FEATURE_NAMES`.

    The path goes on the canonical grid in lengths of its chord; along/across are positions in the chord's frame
    (0 at the start, 1 at the press; across in chord lengths), so an overshoot past the grip shows as along > 1.
    """
    grid = canonical_grid(path, grid_ms)
    start = np.array([path.x[0], path.y[0]])
    end = np.array([path.x[-1], path.y[-1]])
    chord = float(np.hypot(*(end - start)))
    scaled = Path2(grid.t_ms, grid.x / chord, grid.y / chord)
    along, across = km.chord_frame(scaled, start / chord, end / chord)
    tear_like = features_of_press(PressPath(scaled, along, across))
    return np.append(tear_like, np.log10(chord))


def approach_vector(
    arrays: TraceArrays, area_px: tuple[int, int], limits: ApproachLimits, grid_ms: float = DEFAULT_GRID_MS
) -> NDArray[np.float64] | None:
    """The approach's features, or ``None`` when the trace holds no approach to judge."""
    path = approach_path(arrays, area_px, limits)
    return None if path is None else approach_features(path, grid_ms)


def approach_table(
    records: Sequence[TraceRecord], limits: ApproachLimits, grid_ms: float = DEFAULT_GRID_MS
) -> pd.DataFrame:
    """One row per Phase A trace, in ``records``' order: ``approach_judged`` and the approach's features (``NaN``
    where there is no approach to judge)."""
    rows = []
    for r in records:
        if not isinstance(r.task, PerforationTask):
            raise TypeError(f"trace {r.trace_id} is not a Phase A trace")
        vector = approach_vector(r.arrays, r.task.area_px, limits, grid_ms)
        values = np.full(len(APPROACH_FEATURE_NAMES), np.nan) if vector is None else vector
        rows.append(
            {"approach_judged": vector is not None, **dict(zip(APPROACH_FEATURE_NAMES, values, strict=True))}
        )
    return pd.DataFrame(rows, columns=["approach_judged", *APPROACH_FEATURE_NAMES])


class PersonApproach(Protocol):
    """A person's recorded approach (a :class:`tcurity.data.strokes.Stroke` is one)."""

    @property
    def stroke_id(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def path(self) -> Path2: ...


def people_approach_table(
    strokes: Sequence[PersonApproach], split_of: Callable[[str], str | None], grid_ms: float = DEFAULT_GRID_MS
) -> pd.DataFrame:
    """One row per person's approach (``approaches.parquet`` of ``prepare_humans``): ``stroke_id``, ``user``,
    ``split`` (``split_of(user)``; people without one are left out) and the approach's features."""
    rows = []
    for s in strokes:
        split = split_of(s.user)
        if split is not None:
            values = dict(zip(APPROACH_FEATURE_NAMES, approach_features(s.path, grid_ms), strict=True))
            rows.append({"stroke_id": s.stroke_id, "user": s.user, "split": split, **values})
    return pd.DataFrame(rows, columns=["stroke_id", "user", "split", *APPROACH_FEATURE_NAMES])
