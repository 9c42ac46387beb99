"""Phase A features: how one tear along the perforation moved.

The press (``down`` … ``up``) is put on the canonical grid (:mod:`tcurity.sampling`) in perforation lengths, then
described by scale-free kinematic measures (:data:`KINEMATIC_FEATURE_NAMES`) and, after them, the browser-resolution
measures of :mod:`tcurity.features.fine` that passed the rate-invariance test (:data:`FINE_MODEL_FEATURES`: every
fine feature but :data:`tcurity.features.fine.RATE_SENSITIVE`). The served model computes them on the browser grid
(``params.yaml: featurize.grid_ms``, the bundle's ``grid_ms``); the fine ones mean little on a coarser grid. Nothing
here looks at raw event times or counts, which carry the device's polling rate rather than the person's movement;
those browser signals are rule checks in serving.

Training (``pipelines/featurize.py``) and serving (``serving/decisions.py``) both call :func:`phase_a_features`:
one path from a trace to its features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tcurity.datasets import TraceRecord
from tcurity.features import kinematics as km
from tcurity.features.fine import FINE_FEATURE_NAMES, RATE_SENSITIVE, fine_features
from tcurity.geometry import perforation_length_px, perforation_polyline, project_onto_polyline
from tcurity.sampling import DEFAULT_GRID_MS, Path2, canonical_grid
from tcurity.task_checks import FollowCheck, check_follow, follow_of_projection
from tcurity.traces import PerforationTask, TraceArrays

KINEMATIC_FEATURE_NAMES: tuple[str, ...] = (
    "log_duration_s",
    "path_efficiency",
    "peak_speed_ratio",
    "speed_cv",
    "t_peak_frac",
    "n_speed_peaks",
    "ldlj",
    "accel_sign_changes",
    "turn_mean",
    "turn_max",
    "dev_max",
    "dev_mean_abs",
    "dev_crossings",
    "pause_frac",
    "start_speed_frac",
    "end_speed_frac",
    "overshoot",
    "backtrack",
    "t_half_frac",
    "t_ninety_frac",
)
"""The kinematic features (any grid), first in the vectors :func:`phase_a_features` returns."""

FINE_MODEL_FEATURES: tuple[str, ...] = tuple(n for n in FINE_FEATURE_NAMES if n not in RATE_SENSITIVE)
"""The browser-resolution features a model may read: :data:`tcurity.features.fine.FINE_FEATURE_NAMES` without the
rate-sensitive ones."""

FEATURE_NAMES: tuple[str, ...] = KINEMATIC_FEATURE_NAMES + FINE_MODEL_FEATURES
"""The features, in the order of the vectors :func:`phase_a_features` returns."""


@dataclass(frozen=True, slots=True)
class PressPath:
    """A press on the canonical grid, in perforation lengths, with its position along and across the line."""

    path: Path2
    along: NDArray[np.float64]  # along the chord: 0 at the perforation's start, 1 at its end (unclamped)
    across: NDArray[np.float64]  # signed distance from the curve, in perforation lengths


def press_path(task: PerforationTask, arrays: TraceArrays, grid_ms: float = DEFAULT_GRID_MS) -> PressPath:
    """The first press of a trace, on the canonical grid, in perforation lengths.

    Raises:
        ValueError: when the trace holds no complete press.
    """
    raw = first_press(task, arrays)
    grid = canonical_grid(raw, grid_ms)
    line = perforation_polyline(task)
    _, offset = project_onto_polyline(line, grid.x, grid.y)
    return press_on_line(task, line, grid, offset)


def first_press(task: PerforationTask, arrays: TraceArrays) -> Path2:
    """The trace's first press (``down`` … ``up``) as recorded, in task-area pixels.

    Raises:
        ValueError: when the trace holds no complete press.
    """
    spans = arrays.press_spans()
    if not spans:
        raise ValueError("the trace holds no press")
    lo, hi = spans[0]
    px, py = arrays.in_pixels(task.area_px)
    return Path2(arrays.t_ms[lo : hi + 1], px[lo : hi + 1], py[lo : hi + 1])


def press_on_line(
    task: PerforationTask, line: NDArray[np.float64], grid: Path2, offset: NDArray[np.float64]
) -> PressPath:
    """A press on the canonical grid (pixels), and its signed offsets from the perforation ``line``, in
    perforation lengths."""
    length = perforation_length_px(task)
    scaled = Path2(grid.t_ms, grid.x / length, grid.y / length)
    along, _ = km.chord_frame(scaled, line[0] / length, line[-1] / length)
    return PressPath(scaled, along, offset / length)


def phase_a_features(
    task: PerforationTask, arrays: TraceArrays, grid_ms: float = DEFAULT_GRID_MS
) -> NDArray[np.float64]:
    """The feature vector of a Phase A trace, in the order of :data:`FEATURE_NAMES`."""
    return features_of_press(press_path(task, arrays, grid_ms))


def phase_a_evidence(
    task: PerforationTask, arrays: TraceArrays, grid_ms: float = DEFAULT_GRID_MS
) -> tuple[FollowCheck, NDArray[np.float64]]:
    """The geometry gate and the features of a Phase A trace in one pass: exactly
    ``check_follow(task, arrays)`` and ``phase_a_features(task, arrays, grid_ms)``.

    Serving needs both for every tear. Here the press is cut out once, the perforation drawn once, and the
    recorded points and the resampled path projected onto it in one call, which halves the geometry's cost.

    Raises:
        ValueError: when the trace holds no complete press (a validated Phase A trace always holds one).
    """
    raw = first_press(task, arrays)
    grid = canonical_grid(raw, grid_ms)
    line = perforation_polyline(task)
    n = len(raw.x)
    s, offset = project_onto_polyline(line, np.concatenate([raw.x, grid.x]), np.concatenate([raw.y, grid.y]))
    follow = follow_of_projection(task, line, (float(raw.x[0]), float(raw.y[0])), s[:n], offset[:n])
    return follow, features_of_press(press_on_line(task, line, grid, offset[n:]))


def features_of_press(press: PressPath) -> NDArray[np.float64]:
    """Feature vector of a press already on the canonical grid (kinematic features, then the fine ones measured on
    the same grid, in chord lengths)."""
    path = press.path
    duration_s = max(path.duration_ms, 1.0) / 1000.0
    v = km.speeds(path)
    peak = float(np.max(v)) if len(v) else 0.0
    mean = float(np.mean(v)) if len(v) else 0.0
    accel = np.diff(v)
    turns = km.turning_angles(path)
    du = np.diff(press.along)
    values = {
        "log_duration_s": float(np.log10(duration_s)),
        "path_efficiency": km.path_efficiency(path),
        "peak_speed_ratio": peak / mean if mean > 0 else 1.0,
        "speed_cv": float(np.std(v) / mean) if mean > 0 else 0.0,
        "t_peak_frac": (float(np.argmax(v)) + 0.5) / len(v) if len(v) else 0.5,
        "n_speed_peaks": float(km.count_peaks(v, 0.2 * peak)),
        "ldlj": km.log_dimensionless_jerk(path),
        "accel_sign_changes": float(km.sign_changes(accel, 0.05 * peak)) / duration_s,
        "turn_mean": float(np.mean(turns)) if len(turns) else 0.0,
        "turn_max": float(np.max(turns)) if len(turns) else 0.0,
        "dev_max": float(np.max(np.abs(press.across))),
        "dev_mean_abs": float(np.mean(np.abs(press.across))),
        "dev_crossings": float(km.sign_changes(press.across, 0.005)),
        "pause_frac": float(np.mean(v < 0.05 * peak)) if peak > 0 else 1.0,
        "start_speed_frac": float(v[0] / peak) if peak > 0 else 1.0,
        "end_speed_frac": float(v[-1] / peak) if peak > 0 else 1.0,
        "overshoot": float(max(np.max(press.along) - 1.0, 0.0)),
        "backtrack": float(-np.sum(du[du < 0])),
        "t_half_frac": progress_time_frac(path, press.along, 0.5),
        "t_ninety_frac": progress_time_frac(path, press.along, 0.9),
    }
    fine = dict(zip(FINE_FEATURE_NAMES, fine_features(path), strict=True))
    values.update({name: fine[name] for name in FINE_MODEL_FEATURES})
    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)


def feature_table(records: Sequence[TraceRecord], grid_ms: float, sampling: str = "native") -> pd.DataFrame:
    """One row per Phase A trace: identity, labels, the geometry check and the features.

    ``sampling`` records how the traces were emitted (``native`` for the source's own rate, ``human`` for bots
    re-emitted with the humans' sampling process).
    """
    rows = []
    for r in records:
        if not isinstance(r.task, PerforationTask):
            raise TypeError(f"trace {r.trace_id} is not a Phase A trace")
        check = check_follow(r.task, r.arrays)
        rows.append(
            {
                "trace_id": r.trace_id,
                "source": r.source,
                "family": r.family,
                "user": r.user,
                "split": r.split,
                "sampling": sampling,
                "geometry_passed": check.passed,
                "geometry_reason": check.reason or "",
                **dict(zip(FEATURE_NAMES, phase_a_features(r.task, r.arrays, grid_ms), strict=True)),
            }
        )
    return pd.DataFrame(rows)


def progress_time_frac(path: Path2, along: NDArray[np.float64], level: float) -> float:
    """Share of the press's duration spent before it first gets ``level`` of the way along the perforation.

    People cover most of the distance early and spend the rest homing in; constant-speed and symmetric
    machine profiles reach the same point later. Linear interpolation between grid instants.
    """
    progress = np.maximum.accumulate(along)
    if progress[-1] < level or path.duration_ms <= 0:
        return 1.0
    i = int(np.argmax(progress >= level))
    if i == 0:
        return 0.0
    frac = (level - progress[i - 1]) / max(progress[i] - progress[i - 1], 1e-12)
    t = path.t_ms[i - 1] + frac * (path.t_ms[i] - path.t_ms[i - 1])
    return float((t - path.t_ms[0]) / path.duration_ms)
