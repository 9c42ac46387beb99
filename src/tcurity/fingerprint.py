"""Trace fingerprints: one short key per movement *shape*, the same for a trace and any replay of it.

A replay bot keeps a trace that once passed and sends it again: exactly, slower or faster (time-warped), or
re-targeted onto the next task by a similarity transform (rotation, uniform scale, translation), as the data
adapter maps recorded strokes (:func:`tcurity.data.adapter.to_perforation`; :func:`tcurity.simulate.replay.replay_trace`). None of these change a press's
shape, so the key is built from the shape only:

1. **Phase A** takes the perforation's bend out first. The bend shifts points along the chord's normal by an
   amount that depends only on their position along the chord, which that shift does not change, so it is
   exactly invertible.
2. Each press (down to up) is resampled at :data:`SAMPLES` equal steps of arc length: blind to timing and to
   how densely the path was sampled.
3. **Phase A**: each press is put in its own frame, its first point at ``(0, 0)`` and its last at ``(1, 0)``:
   any similarity transform leaves these coordinates as they were. **Phase B** keeps the task-normalised
   positions, so two straight drags between different tiles and slots do not share a key. (A replay onto a
   new problem must move its drags onto the new tiles' cells, which changes this key: the replay profile
   below puts every drag in its own frame instead.)
4. They are rounded to :data:`QUANTUM` and hashed.

A press with fewer than :data:`MIN_DISTINCT_POINTS` distinct positions (a tap of tap-to-place) carries no shape
to recognise and is left out; a trace of such presses only has no key.

What the key does not catch, a replay with fresh noise added to its positions, the *replay profile* below is
for (:func:`replay_profile`, :func:`nearest_distance`): a nearest-neighbour test against the profiles answered
recently, with a threshold set from distances between different people's strokes (:data:`PROFILE_THRESHOLDS`).
People do not repeat a movement to a ten-thousandth of its length, so two people never share a key. Synthetic
input does: every scripted straight tear has the same shape, and so has every keyboard tear (the SDK moves the
handle in equal steps), so a second one within the window is refused as a replay. Keyboard tears are refused
by the Phase A model already (docs/architecture.md, known gaps).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

from tcurity.geometry import unbend_along
from tcurity.traces import GridTask, PerforationTask, Trace, TraceArrays

SAMPLES = 32
QUANTUM = 1e-4
MIN_DISTINCT_POINTS = 4
VERSION = "fp1"


def _own_frame(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points relative to their first→last chord: first at ``(0, 0)``, last at ``(1, 0)``."""
    chord = points[-1] - points[0]
    length_sq = float(chord @ chord)
    if length_sq == 0.0:
        return points - points[0]
    rel = points - points[0]
    return np.stack([rel @ chord, rel @ np.array([-chord[1], chord[0]])], axis=1) / length_sq


def _resample_by_arc(points: NDArray[np.float64], samples: int) -> NDArray[np.float64]:
    steps = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    if arc[-1] == 0.0:
        return np.repeat(points[:1], samples, axis=0)
    at = np.linspace(0.0, arc[-1], samples)
    return np.stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])], axis=1)


def _keyed(points: NDArray[np.float64]) -> bool:
    return len(np.unique(points, axis=0)) >= MIN_DISTINCT_POINTS


def shape_profile(arrays: TraceArrays, task: PerforationTask | GridTask) -> NDArray[np.float64]:
    """The shape of each press with at least :data:`MIN_DISTINCT_POINTS` distinct positions, ``SAMPLES`` points
    per press (rows: those presses in order; none for a trace of taps)."""
    x_px, y_px = arrays.in_pixels(task.area_px)
    if isinstance(task, PerforationTask):
        points = np.stack(unbend_along(task, x_px, y_px), axis=1)
        frame = _own_frame
    else:
        points = np.stack([arrays.x, arrays.y], axis=1)
        frame = _identity
    presses = [points[a : b + 1] for a, b in arrays.press_spans()]
    shapes = [frame(_resample_by_arc(press, SAMPLES)) for press in presses if _keyed(press)]
    return np.stack(shapes) if shapes else np.zeros((0, SAMPLES, 2))


def _identity(points: NDArray[np.float64]) -> NDArray[np.float64]:
    return points


def fingerprint(trace: Trace) -> str | None:
    """The trace's shape key (``fp1:<task kind>:`` and 32 hex digits), equal for a trace and its exact,
    time-warped or re-targeted replays; ``None`` for a trace of taps only."""
    profile = shape_profile(trace.arrays(), trace.task)
    if not len(profile):
        return None
    quantised = np.round(profile / QUANTUM).astype(np.int64)
    digest = hashlib.blake2b(quantised.tobytes(), digest_size=16, person=b"tcurity-shape").hexdigest()
    return f"{VERSION}:{trace.task.kind}:{digest}"


# --- the replay profile: a nearest-neighbour test that survives noise ----------------------------------------

PROFILE_SAMPLES = 32
PROFILE_THRESHOLDS: dict[str, float] = {"perforation": 0.011, "grid": 0.028}
"""Largest profile distance (:func:`profile_distance`) still taken for a replay, by task kind. Set on the
training users' strokes by :func:`tcurity.evaluate.replay.measure_replay_profile`
(``reports/metrics/replay_profile.json``): below the distance from a person's answer to the nearest answer of
another person for all but a few per mille of tears (and every grid answer measured), above that of most
noisy replays (the measured rates are in the report). Grid answers lie further apart (several drags, none
of them held to a line), so their threshold is higher."""


def profile_threshold(task: PerforationTask | GridTask) -> float:
    """The profile threshold for answers to ``task``'s kind (:data:`PROFILE_THRESHOLDS`)."""
    return PROFILE_THRESHOLDS[task.kind]


def _binned_by_order(points: NDArray[np.float64], samples: int) -> NDArray[np.float64]:
    """Means of ``samples`` equal runs of the press's events, in event order (linearly interpolated first, so
    a press of fewer events than bins still fills them). Blind to timing, and averages noise away."""
    n = len(points)
    fine = samples * max(4, -(-n // samples))
    at = np.linspace(0.0, n - 1.0, fine)
    index = np.arange(n, dtype=np.float64)
    dense = np.stack([np.interp(at, index, points[:, 0]), np.interp(at, index, points[:, 1])], axis=1)
    return np.asarray(dense.reshape(samples, -1, 2).mean(axis=1), dtype=np.float64)


def replay_profile(trace: Trace) -> NDArray[np.float32] | None:
    """The trace's replay profile: every press (Phase A's without its bend) as :data:`PROFILE_SAMPLES` means of
    equal runs of its events, in its own frame (first run at ``(0, 0)``, last at ``(1, 0)``), so a re-targeted,
    time-warped or re-sampled copy keeps it and point noise is averaged down. Shape ``(presses, samples, 2)``;
    ``None`` when every press is a tap (fewer than :data:`MIN_DISTINCT_POINTS` positions). A tap among drags
    keeps its place (a straight profile), so turning one drag of a replay into a tap hides none of the others.

    Equal runs of *events* rather than of arc length: the places the pointer was sampled along the path carry
    the movement's speed profile, so two people's tears differ more (on the training users, the median
    distance to the nearest other person's tear is about twice as large), and noise does not stretch them.
    """
    arrays, task = trace.arrays(), trace.task
    x_px, y_px = arrays.in_pixels(task.area_px)
    if isinstance(task, PerforationTask):
        x_px, y_px = unbend_along(task, x_px, y_px)
    points = np.stack([x_px, y_px], axis=1)
    presses = [points[a : b + 1] for a, b in arrays.press_spans()]
    if not any(_keyed(p) for p in presses):  # taps only (the keyboard path): no shape to recognise
        return None
    return np.stack([_own_frame(_binned_by_order(p, PROFILE_SAMPLES)) for p in presses]).astype(np.float32)


def profile_index(trace: Trace, profile: NDArray[np.float32]) -> str | None:
    """The index a profile is compared within: its phase and number of presses (only like answers compare);
    ``None`` when the number of presses cannot answer the task (one per tear, one per slot), so no answer adds
    an index of its own making."""
    task = trace.task
    expected = len(task.slots) if isinstance(task, GridTask) else 1
    return f"{task.kind}:{expected}" if len(profile) == expected else None


def nearest_distance(profile: NDArray[np.float32], others: NDArray[np.float32]) -> float:
    """The smallest :func:`profile_distance` from ``profile`` to any row of ``others`` (``inf`` for none).

    ``others`` has shape ``(m, presses, samples, 2)``; one vectorised pass.
    """
    if not len(others):
        return float("inf")
    diff = others.astype(np.float64) - profile.astype(np.float64)[None]
    return float(np.sqrt(np.min(np.mean(np.sum(diff * diff, axis=-1), axis=(1, 2)))))


def profile_distance(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Root-mean-square distance between two profiles' points, in chord lengths of their presses."""
    return nearest_distance(a, b[None])
