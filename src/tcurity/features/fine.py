"""Browser-resolution features: what a person's hand does that a smooth synthetic curve does not.

Every function takes one movement already on the browser grid (:func:`tcurity.sampling.browser_grid`: even
steps of ~16.7 ms) in a scale-free unit (chord lengths, or perforation lengths), and measures something a 60 Hz
trace holds and a 100 ms grid loses:

- *sub-movements*: a person's aimed movement is a train of overlapping ballistic pulses, so its speed profile
  has several peaks, with corrective ones near the end; an eased or minimum-jerk curve has one;
- *tremor*: physiological tremor puts energy into the 8–12 Hz band of the acceleration; smooth curves put none
  there and white positional jitter puts most of its energy higher up;
- *jerk*, *velocity-profile asymmetry* (people reach peak speed early), *micro-pauses* and *curvature* statistics;
- *Fitts compliance*: a person's duration follows the distance (:func:`fit_fitts`, :func:`fitts_residual`).

Each function's docstring says exactly what it computes; ``tests/features/test_fine.py`` checks each on inputs
small enough to compute by hand. ``reports/metrics/feature_separation.json`` says which of them separate people
from each bot family (``tcurity.evaluate.separation``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from tcurity.features import kinematics as km
from tcurity.sampling import Path2

FINE_FEATURE_NAMES: tuple[str, ...] = (
    "n_submovements",
    "end_corrections",
    "peak_time_frac",
    "tremor_band_ratio",
    "hf_band_ratio",
    "log_norm_jerk",
    "micro_pauses",
    "curv_mean_abs",
    "curv_sign_changes",
)
"""The features of :func:`fine_features`, in order."""

RATE_SENSITIVE: tuple[str, ...] = ("hf_band_ratio",)
"""Fine features that the recording rate still moves: the 12–30 Hz share of the acceleration's power is lower in a
60 Hz SDK stream than in the 125 Hz recording of the same movements (|SMD| 0.14–0.21 over ten draws of frame phase
and jitter, against 0.2 for every other feature; narrowing the band to 12–20 Hz does not help). Measured by
:mod:`tcurity.evaluate.invariance` and watched in ``tests/test_sampling_invariance.py``; no model reads them
(:data:`tcurity.features.phase_a.FEATURE_NAMES` leaves them out).
"""

SUBMOVEMENT_PROMINENCE = 0.1
"""A speed peak is a sub-movement when it rises at least this share of the peak speed above the valleys around
it (``scipy.signal.find_peaks`` prominence)."""
TREMOR_BAND_HZ = (8.0, 12.0)
HIGH_BAND_HZ = (12.0, 30.0)
PAUSE_SPEED_FRAC = 0.05
MIN_PAUSE_MS = 50.0


def step_times_ms(path: Path2) -> NDArray[np.float64]:
    """The time of each step's middle (where :func:`tcurity.features.kinematics.speeds` applies)."""
    return np.asarray((path.t_ms[1:] + path.t_ms[:-1]) / 2.0, dtype=np.float64)


def speed_peaks(
    speeds: NDArray[np.float64], min_prominence: float = SUBMOVEMENT_PROMINENCE
) -> NDArray[np.intp]:
    """Indices of the sub-movement peaks of a speed profile.

    The profile is padded with a zero at both ends (a movement starts and ends at rest, and a peak on the
    first or last step still counts), then the peaks whose prominence is at least ``min_prominence`` times the
    highest speed are kept. A flat plateau counts once.
    """
    if len(speeds) == 0:
        return np.zeros(0, dtype=np.intp)
    peak = float(np.max(speeds))
    if peak <= 0:
        return np.zeros(0, dtype=np.intp)
    padded = np.concatenate([[0.0], speeds, [0.0]])
    found, _ = find_peaks(padded, prominence=min_prominence * peak)
    return np.asarray(found - 1, dtype=np.intp)


def n_submovements(path: Path2, min_prominence: float = SUBMOVEMENT_PROMINENCE) -> int:
    """Number of sub-movements: the speed profile's peaks of at least ``min_prominence`` of the peak speed."""
    return len(speed_peaks(km.speeds(path), min_prominence))


def end_corrections(
    path: Path2, progress: float = 0.9, min_prominence: float = SUBMOVEMENT_PROMINENCE
) -> int:
    """Corrective sub-movements: speed peaks on steps that start once the movement has covered ``progress`` of
    its chord (projected onto the start→end line, running maximum). A person homing in on a target adds small
    ones there; an eased curve decelerates in one piece."""
    start = np.array([path.x[0], path.y[0]])
    end = np.array([path.x[-1], path.y[-1]])
    if float(np.hypot(*(end - start))) == 0.0:
        return 0
    along, _ = km.chord_frame(path, start, end)
    reached = np.maximum.accumulate(along)[:-1] >= progress
    peaks = speed_peaks(km.speeds(path), min_prominence)
    return int(np.sum(reached[peaks]))


def peak_time_frac(path: Path2) -> float:
    """Velocity-profile asymmetry: the time of the fastest step's middle as a share of the duration.

    Minimum-jerk and symmetric easings peak at 0.5; people's aimed movements peak earlier (a fast ballistic
    phase, then a long homing-in). 0.5 for a path that lasts no time or never moves.
    """
    v = km.speeds(path)
    if len(v) == 0 or path.duration_ms <= 0 or float(np.max(v)) <= 0:
        return 0.5
    return float((step_times_ms(path)[int(np.argmax(v))] - path.t_ms[0]) / path.duration_ms)


def band_power_ratio(signal: NDArray[np.float64], dt_s: float, band_hz: tuple[float, float]) -> float:
    """Share of a signal's power (its mean removed) in ``band_hz`` (inclusive), over all positive frequencies.

    ``signal`` may be ``(n,)`` or ``(n, k)`` (the powers of the columns add up). The spectrum is the plain
    ``rfft`` of the ``n`` samples (no window, no padding), so a sinusoid on a frequency bin lands in one bin.
    0 for a constant signal.
    """
    values = np.asarray(signal, dtype=np.float64)
    values = values.reshape(len(values), -1)
    if len(values) < 2:
        return 0.0
    spectrum = np.abs(np.fft.rfft(values - values.mean(axis=0), axis=0)) ** 2
    power = spectrum.sum(axis=1)
    freqs = np.fft.rfftfreq(len(values), dt_s)
    positive = freqs > 0
    total = float(power[positive].sum())
    if total <= 1e-24:
        return 0.0
    in_band = positive & (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    return float(power[in_band].sum() / total)


def acceleration(path: Path2) -> NDArray[np.float64]:
    """``(n - 2, 2)`` accelerations (second differences over the mean step, per second²) of an evenly sampled
    path."""
    dt_s = _step_s(path)
    xy = np.stack([path.x, path.y], axis=1)
    return np.asarray(np.diff(xy, n=2, axis=0) / dt_s**2, dtype=np.float64)


def tremor_band_ratio(path: Path2, band_hz: tuple[float, float] = TREMOR_BAND_HZ) -> float:
    """Share of the acceleration's power in the physiological-tremor band (8–12 Hz by default).

    0 when the path has fewer than 4 samples or does not accelerate (second differences below 1e-9 of the
    longest step: floating-point round-off of a straight constant-speed line)."""
    if len(path) < 4:
        return 0.0
    accel = acceleration(path)
    steps = km.step_lengths(path)
    if float(np.max(np.abs(accel))) * _step_s(path) ** 2 <= 1e-9 * max(float(np.max(steps)), 1e-300):
        return 0.0
    return band_power_ratio(accel, _step_s(path), band_hz)


def log_norm_jerk(path: Path2) -> float:
    """``log10`` of the mean jerk magnitude made dimensionless: ``mean|jerk| · T³ / L`` (``T`` the duration in
    s, ``L`` the travelled length). Scale-free, so it compares a tremoring hand with a smooth curve of any size
    and pace; third differences of an evenly sampled path. 0 for fewer than 4 samples or no travel."""
    travelled = float(np.sum(km.step_lengths(path)))
    if len(path) < 4 or travelled <= 0 or path.duration_ms <= 0:
        return 0.0
    dt_s = _step_s(path)
    xy = np.stack([path.x, path.y], axis=1)
    jerk = np.hypot(*(np.diff(xy, n=3, axis=0) / dt_s**3).T)
    duration_s = path.duration_ms / 1000.0
    return float(np.log10(max(float(np.mean(jerk)) * duration_s**3 / travelled, 1e-12)))


def micro_pauses(
    path: Path2, speed_frac: float = PAUSE_SPEED_FRAC, min_pause_ms: float = MIN_PAUSE_MS
) -> int:
    """Hesitations: runs of steps slower than ``speed_frac`` of the peak speed lasting at least
    ``min_pause_ms`` (from the first slow step's start to the last one's end), not counting a rest at the very
    start or end of the movement."""
    v = km.speeds(path)
    if len(v) == 0 or float(np.max(v)) <= 0:
        return 0
    slow = v < speed_frac * float(np.max(v))
    count, i = 0, 0
    while i < len(slow):
        if not slow[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(slow) and slow[j + 1]:
            j += 1
        interior = i > 0 and j < len(slow) - 1
        if interior and path.t_ms[j + 1] - path.t_ms[i] >= min_pause_ms:
            count += 1
        i = j + 1
    return count


def curvatures(path: Path2, min_step: float = 1e-3) -> NDArray[np.float64]:
    """Signed curvature at each interior sample: the heading change between its two steps (radians, positive
    anticlockwise in x-right/y-up axes) over the mean of their lengths. Steps shorter than ``min_step`` are left
    out (a resting pointer has no heading). A circle of radius ``R`` sampled every ``φ`` radians gives
    ``φ / (2R·sin(φ/2))`` everywhere, close to ``1/R``."""
    dx, dy = np.diff(path.x), np.diff(path.y)
    lengths = np.hypot(dx, dy)
    moving = lengths > min_step
    dx, dy, lengths = dx[moving], dy[moving], lengths[moving]
    if len(lengths) < 2:
        return np.zeros(0)
    heading = np.arctan2(dy, dx)
    turn = (np.diff(heading) + np.pi) % (2 * np.pi) - np.pi
    return np.asarray(turn / ((lengths[1:] + lengths[:-1]) / 2.0), dtype=np.float64)


def curvature_stats(path: Path2, dead_zone: float = 0.5) -> tuple[float, int]:
    """Mean absolute curvature and the number of curvature sign changes, in the path's own unit.

    On a path in chord lengths, a mean of ``c`` means the path bends as a circle of radius ``1/c`` chords.
    Sign changes ignore curvatures within ``±dead_zone`` (a wobbling hand reverses its bend often; a Bézier
    bends one way or twice)."""
    k = curvatures(path)
    if len(k) == 0:
        return 0.0, 0
    return float(np.mean(np.abs(k))), km.sign_changes(k, dead_zone)


def fitts_index(distance: float, width: float) -> float:
    """Fitts's index of difficulty (Shannon form), bits: ``log2(distance / width + 1)``."""
    return math.log2(max(distance, 0.0) / width + 1.0)


def fit_fitts(distances: Sequence[float], durations_ms: Sequence[float], width: float) -> tuple[float, float]:
    """Least-squares Fitts's law ``MT = a + b · ID`` on people's movements: returns ``(a_ms, b_ms_per_bit)``.

    Fit on training people only; :func:`fitts_residual` then says how far a movement's duration is from it.

    Raises:
        ValueError: for fewer than two movements or a single distance.
    """
    ids = np.array([fitts_index(d, width) for d in distances])
    mt = np.asarray(durations_ms, dtype=np.float64)
    if len(ids) < 2 or np.ptp(ids) == 0:
        raise ValueError("Fitts's law needs at least two movements of different distances")
    b, a = np.polyfit(ids, mt, 1)
    return float(a), float(b)


def fitts_residual(
    distance: float, duration_ms: float, width: float, a_ms: float, b_ms_per_bit: float
) -> float:
    """``log10`` of the movement time over the time Fitts's law predicts (0: on the law; > 0: slower)."""
    predicted = max(a_ms + b_ms_per_bit * fitts_index(distance, width), 1.0)
    return float(np.log10(max(duration_ms, 1.0) / predicted))


def in_chord_lengths(path: Path2) -> Path2:
    """The path with positions divided by its start→end distance (unchanged when it returns to its start)."""
    chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
    if chord <= 0:
        return path
    return Path2(path.t_ms, path.x / chord, path.y / chord)


def fine_features(path: Path2) -> NDArray[np.float64]:
    """The vector of :data:`FINE_FEATURE_NAMES` for one movement on the browser grid (any unit: it is measured
    in chord lengths). ``curv_sign_changes`` is per second of movement."""
    p = in_chord_lengths(path)
    curv_mean, curv_changes = curvature_stats(p)
    duration_s = max(p.duration_ms, 1.0) / 1000.0
    values = {
        "n_submovements": float(n_submovements(p)),
        "end_corrections": float(end_corrections(p)),
        "peak_time_frac": peak_time_frac(p),
        "tremor_band_ratio": tremor_band_ratio(p),
        "hf_band_ratio": tremor_band_ratio(p, HIGH_BAND_HZ),
        "log_norm_jerk": log_norm_jerk(p),
        "micro_pauses": float(micro_pauses(p)),
        "curv_mean_abs": curv_mean,
        "curv_sign_changes": curv_changes / duration_s,
    }
    return np.array([values[name] for name in FINE_FEATURE_NAMES], dtype=np.float64)


def _step_s(path: Path2) -> float:
    """The mean step of an evenly sampled path, in seconds (1 ms for a single instant)."""
    return max(float(np.mean(np.diff(path.t_ms))) if len(path) > 1 else 1.0, 1e-3) / 1000.0
