"""Kinematic measures of one movement on the canonical grid.

Every function takes a :class:`~tcurity.sampling.Path2` already put on the canonical grid (even time steps,
see :func:`tcurity.sampling.canonical_grid`) with positions in *task lengths* (pixels divided by the task's
reference length), so results do not depend on the screen's size or the device's polling rate. Speeds are in
lengths per second.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tcurity.sampling import Path2


def step_lengths(path: Path2) -> NDArray[np.float64]:
    """Distance travelled between successive samples."""
    return np.asarray(np.hypot(np.diff(path.x), np.diff(path.y)), dtype=np.float64)


def speeds(path: Path2) -> NDArray[np.float64]:
    """Speed of each step in lengths per second."""
    dt_s = np.diff(path.t_ms) / 1000.0
    return np.asarray(step_lengths(path) / np.maximum(dt_s, 1e-6), dtype=np.float64)


def path_efficiency(path: Path2) -> float:
    """Chord over travelled length: 1 for a straight line, lower for detours and corrections."""
    travelled = float(np.sum(step_lengths(path)))
    chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
    return chord / travelled if travelled > 0 else 1.0


def turning_angles(path: Path2, min_step: float = 1e-3) -> NDArray[np.float64]:
    """Absolute change of heading (radians, 0..π) between successive steps longer than ``min_step``."""
    dx, dy = np.diff(path.x), np.diff(path.y)
    moving = np.hypot(dx, dy) > min_step
    heading = np.arctan2(dy[moving], dx[moving])
    turn = np.diff(heading)
    return np.asarray(np.abs((turn + np.pi) % (2 * np.pi) - np.pi), dtype=np.float64)


def count_peaks(values: NDArray[np.float64], min_height: float) -> int:
    """Number of local maxima at least ``min_height`` high.

    A plateau counts once, and values that differ only by floating-point round-off count as equal (a
    constant-speed profile is one plateau, not a row of noise peaks). An end of the array counts when it lies
    above its neighbour.
    """
    if len(values) == 0:
        return 0
    tol = 1e-9 * float(np.max(np.abs(values)))
    step = np.diff(values)
    changes = np.flatnonzero(np.abs(step) > tol)
    levels = values[np.concatenate([[0], changes + 1])]
    rising = np.concatenate([[True], step[changes] > 0])
    falling = np.concatenate([step[changes] < 0, [True]])
    return int(np.sum(rising & falling & (levels >= min_height)))


def sign_changes(values: NDArray[np.float64], dead_zone: float = 0.0) -> int:
    """How often ``values`` change sign, ignoring values within ``±dead_zone``."""
    signs = np.sign(values[np.abs(values) > dead_zone])
    return int(np.sum(signs[1:] != signs[:-1]))


def log_dimensionless_jerk(path: Path2) -> float:
    """Log dimensionless jerk (LDLJ), a standard smoothness measure of a reaching movement.

    ``-ln(T³ / v_peak² · ∫|jerk|² dt)``: higher (closer to zero) is smoother. Needs at least four samples;
    shorter paths get 0.
    """
    if len(path) < 4:
        return 0.0
    dt_s = float(np.mean(np.diff(path.t_ms))) / 1000.0
    vx, vy = np.diff(path.x) / dt_s, np.diff(path.y) / dt_s
    jx, jy = np.diff(vx, n=2) / dt_s**2, np.diff(vy, n=2) / dt_s**2
    duration_s = path.duration_ms / 1000.0
    v_peak = float(np.max(np.hypot(vx, vy)))
    if v_peak <= 0:
        return 0.0
    integral = float(np.sum(jx**2 + jy**2) * dt_s)
    return float(-np.log(max(duration_s**3 / v_peak**2 * integral, 1e-12)))


def chord_frame(
    path: Path2, start: NDArray[np.float64], end: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Positions in the frame of the chord ``start → end``: ``u`` along it (0 at start, 1 at end) and ``v``
    across it (in chord lengths, positive towards the normal ``(-dy, dx)``)."""
    chord = end - start
    length_sq = float(chord @ chord)
    rel_x, rel_y = path.x - start[0], path.y - start[1]
    u = (rel_x * chord[0] + rel_y * chord[1]) / length_sq
    v = (rel_y * chord[0] - rel_x * chord[1]) / length_sq
    return np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
