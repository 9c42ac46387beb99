"""One sampling model for every trace, so that models learn movement, not polling rates.

The human data were recorded over remote desktop at about 9 points per second (median gap 109 ms, clock
quantised to ~15.6 ms, 9 % of gaps zero); a browser delivers 60–250 pointer events per second; simulators can
emit anything. Features computed on raw events would tell these apart by their sampling alone.

So every press (human, bot or live browser) is put on the same *canonical grid* before any feature is
computed: duplicate timestamps are merged, then the path is interpolated linearly at evenly spaced instants
about ``grid_ms`` apart, from the press's first to its last event. The grid is as coarse as the human data, so no
trace carries detail the humans' recordings could not have had; finer detail (tremor above ~5 Hz) is given up
on purpose. See ``docs/sampling.md``.

Browser-resolution features use the same grid at ~16.7 ms instead (:func:`browser_grid`), measured on people
recorded in browsers (SapiMouse); :func:`sdk_event_stream` re-emits any movement as the SDK records it in a
browser that coalesces pointer events into animation frames.

:class:`HumanSampler` is the reverse: it re-emits any path with the humans' measured sampling process, used to
evaluate bots "recorded as humans were" and to test that scores do not move with the sampling rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DEFAULT_GRID_MS = 100.0
BROWSER_GRID_MS = 1000.0 / 60.0
"""The browser-resolution grid: one instant per 60 Hz frame, the slowest rate a browser delivers pointer events at
(SapiMouse's median gap is 17 ms). See :func:`browser_grid`."""


@dataclass(frozen=True, slots=True)
class Path2:
    """A sampled 2-D path: times in ms and positions in any isotropic unit (pixels, or task lengths)."""

    t_ms: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.t_ms.shape[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t_ms[-1] - self.t_ms[0]) if len(self) else 0.0


def merge_equal_times(t_ms: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> Path2:
    """Merges events that share a timestamp into one point at their mean position.

    Quantised clocks (and coalesced browser events) give several positions one time; a path needs one.
    """
    times, inverse, counts = np.unique(t_ms, return_inverse=True, return_counts=True)
    if len(times) == len(t_ms):
        return Path2(t_ms.astype(np.float64), x.astype(np.float64), y.astype(np.float64))
    mx = np.bincount(inverse, weights=x) / counts
    my = np.bincount(inverse, weights=y) / counts
    return Path2(times.astype(np.float64), mx, my)


def canonical_grid(path: Path2, grid_ms: float = DEFAULT_GRID_MS) -> Path2:
    """Resamples a path onto evenly spaced instants about ``grid_ms`` apart, endpoints included, then low-passes it.

    The number of instants is ``round(duration / grid_ms) + 1`` (at least 2), so the spacing is as close to
    ``grid_ms`` as the duration allows and the first and last events are kept exactly. Interior positions are
    then smoothed with the binomial kernel ``[1/4, 1/2, 1/4]``: linear interpolation of a dense browser trace keeps
    sharper speed peaks than the same movement recorded at ~9 Hz, and the smoothing removes most of that
    difference (measured in ``tests/test_sampling_invariance.py``). Straight constant-speed motion is unchanged.
    A path that lasts no time at all (a teleport) keeps its first and last positions one millisecond apart.
    """
    merged = merge_equal_times(path.t_ms, path.x, path.y)
    if len(merged) < 2:
        t0 = float(path.t_ms[0])
        return Path2(
            np.array([t0, t0 + 1.0]), np.array([path.x[0], path.x[-1]]), np.array([path.y[0], path.y[-1]])
        )
    n = max(2, round(merged.duration_ms / grid_ms) + 1)
    grid = np.linspace(merged.t_ms[0], merged.t_ms[-1], n)
    x, y = np.interp(grid, merged.t_ms, merged.x), np.interp(grid, merged.t_ms, merged.y)
    return Path2(grid, _smooth_interior(x), _smooth_interior(y))


def browser_grid(path: Path2, grid_ms: float = BROWSER_GRID_MS) -> Path2:
    """A path at browser resolution: :func:`canonical_grid` on a 60 Hz grid (``grid_ms`` ≈ 16.7 ms).

    What a 60 Hz trace holds survives: frequencies up to about 15 Hz (the ``[1/4, 1/2, 1/4]`` smoothing passes
    75 % of a 10 Hz component and 50 % at 15 Hz), so sub-movements, the 8–12 Hz physiological tremor band, jerk and
    end corrections stay measurable. What is removed is what tells a 60 Hz browser from a 125 Hz one: a 125 Hz
    recording interpolated onto the grid keeps sharper peaks than a 60 Hz one would, and the smoothing takes the
    difference out (proved on SapiMouse's 60 Hz and 125 Hz people in ``tests/test_sampling_invariance.py``).
    Traces sampled more coarsely than the grid (Balabit's ~9 Hz) are interpolated linearly: their fine-scale
    measures are then those of straight segments, which is why such traces never train browser-resolution
    features (``docs/data.md``, ``docs/sampling.md``).
    """
    return canonical_grid(path, grid_ms)


def sdk_event_stream(
    path: Path2,
    rng: np.random.Generator,
    frame_hz: float = 60.0,
    frame_jitter_ms: float = 0.5,
    phase_ms: float | None = None,
) -> Path2:
    """What the SDK records of a movement in a browser that aligns pointer events to animation frames.

    Browsers dispatch ``pointermove`` at most once per frame (rAF-aligned input) and coalesce the hardware
    events in between: the dispatched event carries the time and position of the latest one
    (``getCoalescedEvents()`` holds the rest, which the SDK counts but does not record). So each frame boundary
    ``t0 + phase + k / frame_hz`` (jittered by ``N(0, frame_jitter_ms)``) emits the last source event at or before
    it; a frame with no new source event emits nothing. The display's frames do not wait for the movement: the
    phase is drawn uniformly within one frame unless ``phase_ms`` fixes it. The first and last source events are always kept (the press's
    ``down`` and ``up`` are dispatched at once, never coalesced). ``path`` holds the source's events (a mouse's
    125 Hz–1 kHz reports, or a bot's dispatched moves).
    """
    if len(path) < 3:
        return path
    t0, t1 = float(path.t_ms[0]), float(path.t_ms[-1])
    period = 1000.0 / frame_hz
    phase = float(rng.uniform(0.0, period)) if phase_ms is None else phase_ms
    frames = t0 + phase + period * np.arange(int((t1 - t0 - phase) / period) + 1)
    frames = frames + rng.normal(0.0, frame_jitter_ms, len(frames))
    latest = np.searchsorted(path.t_ms, frames, side="right") - 1
    keep = np.unique(np.concatenate([[0], latest[(latest > 0) & (latest < len(path) - 1)], [len(path) - 1]]))
    return Path2(path.t_ms[keep], path.x[keep], path.y[keep])


def _smooth_interior(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``[1/4, 1/2, 1/4]`` smoothing of every value but the first and last."""
    if len(values) < 3:
        return values
    out = values.copy()
    out[1:-1] = 0.25 * values[:-2] + 0.5 * values[1:-1] + 0.25 * values[2:]
    return out


@dataclass(frozen=True)
class HumanSampler:
    """The humans' measured sampling process: an empirical distribution of gaps and the clock's quantum.

    ``gaps_ms`` are gaps between successive events inside human movements (zeros included); sampling draws gaps
    from them and rounds event times to multiples of ``quantum_ms``.
    """

    gaps_ms: NDArray[np.float64]
    quantum_ms: float

    @classmethod
    def fit(cls, gaps_ms: NDArray[np.float64], max_gap_ms: float = 400.0) -> HumanSampler:
        """Builds a sampler from observed gaps (gaps above ``max_gap_ms`` are pauses, not sampling)."""
        gaps = np.asarray(gaps_ms, dtype=np.float64)
        gaps = gaps[(gaps >= 0) & (gaps <= max_gap_ms)]
        positive = gaps[gaps > 0]
        quantum = float(np.min(positive[positive >= 5.0])) if np.any(positive >= 5.0) else 1.0
        return cls(gaps_ms=gaps, quantum_ms=quantum)

    @cached_property
    def median_gap_ms(self) -> float:
        """The median gap, computed once per sampler (every :meth:`resample` reads it; the gaps run to
        hundreds of thousands, and re-sorting them per call was most of ``prepare_phase_b``'s time)."""
        return float(np.median(self.gaps_ms))

    def resample(self, path: Path2, rng: np.random.Generator) -> Path2:
        """Re-emits ``path`` as the human recordings would have: random gaps, quantised clock, equal times.

        The first and last positions are always kept (a press's down and up are always recorded).
        """
        if len(path) < 2 or path.duration_ms <= 0:
            return path
        t0, t1 = float(path.t_ms[0]), float(path.t_ms[-1])
        draws = rng.choice(self.gaps_ms, size=int(path.duration_ms / max(self.median_gap_ms, 1.0)) * 3 + 8)
        times = t0 + np.cumsum(draws)
        times = np.concatenate([[t0], times[times < t1], [t1]])
        x = np.interp(times, path.t_ms, path.x)
        y = np.interp(times, path.t_ms, path.y)
        quantised = t0 + np.round((times - t0) / self.quantum_ms) * self.quantum_ms
        quantised = np.maximum.accumulate(quantised)
        return Path2(quantised, x, y)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"quantum_ms": self.quantum_ms, "gaps_ms": np.round(self.gaps_ms, 3).tolist()}
        path.write_text(json.dumps(payload))

    @classmethod
    def load(cls, path: Path) -> HumanSampler:
        payload = json.loads(path.read_text())
        return cls(gaps_ms=np.asarray(payload["gaps_ms"], dtype=np.float64), quantum_ms=payload["quantum_ms"])


def uniform_resample(path: Path2, rate_hz: float) -> Path2:
    """Re-emits ``path`` at a steady rate (a browser's pointer events), first and last positions kept."""
    if len(path) < 2 or path.duration_ms <= 0:
        return path
    step = 1000.0 / rate_hz
    times = np.arange(path.t_ms[0], path.t_ms[-1], step)
    times = np.concatenate([times, [path.t_ms[-1]]]) if times[-1] < path.t_ms[-1] else times
    return Path2(times, np.interp(times, path.t_ms, path.x), np.interp(times, path.t_ms, path.y))


@dataclass(frozen=True, slots=True)
class SegmentGrid:
    """Several movements of one trace, each on its own canonical grid, stored back to back.

    Segment ``k`` occupies ``t_ms[starts[k] : starts[k] + counts[k]]`` (likewise ``x`` and ``y``); every segment
    holds at least two instants.
    """

    t_ms: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    starts: NDArray[np.intp]  # index of each segment's first instant
    counts: NDArray[np.intp]  # instants per segment
    ends: NDArray[np.intp]  # index of each segment's last instant
    segment_ids: NDArray[np.intp]  # the segment each instant belongs to

    def segment(self, k: int) -> Path2:
        """Segment ``k`` as a path (what :func:`canonical_grid` gives for its events)."""
        sl = slice(int(self.starts[k]), int(self.starts[k] + self.counts[k]))
        return Path2(self.t_ms[sl], self.x[sl], self.y[sl])


def canonical_grid_segments(
    t_ms: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    bounds: NDArray[np.intp],
    grid_ms: float = DEFAULT_GRID_MS,
) -> SegmentGrid:
    """:func:`canonical_grid` of several index ranges of one event stream at once.

    ``bounds`` holds one ``(first, last)`` row of event indices (inclusive) per segment; segments may share
    events (a press's ``down`` ends the approach to it and starts the drag). Each segment gets exactly what
    :func:`canonical_grid` gives for its own events (equal times merged, even instants, interior smoothing);
    doing all segments in one pass keeps a whole Phase B answer within tens of numpy calls, which is what lets
    serving score it in well under a millisecond. Times must not decrease within a segment (validated traces).
    """
    lo, hi = np.asarray(bounds, dtype=np.intp).T
    lengths = hi - lo + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    idx = np.repeat(lo - offsets, lengths) + np.arange(int(lengths.sum()))
    seg = np.repeat(np.arange(len(lo)), lengths)
    t, px, py = t_ms[idx], x[idx], y[idx]
    first_raw, last_raw = offsets, offsets + lengths - 1
    new = np.empty(len(t), dtype=bool)
    new[1:] = t[1:] != t[:-1]
    new[offsets] = True  # a segment's first event never merges into the previous segment
    if not new.all():
        group = np.cumsum(new) - 1
        counts = np.bincount(group)
        px, py = np.bincount(group, weights=px) / counts, np.bincount(group, weights=py) / counts
        t, seg = t[new], seg[new]
    merged = np.bincount(seg, minlength=len(lo))
    if np.any(merged < 2):
        first = (x[idx[first_raw]], y[idx[first_raw]])
        last = (x[idx[last_raw]], y[idx[last_raw]])
        t, px, py, seg = _pad_instant_segments(t, px, py, seg, merged < 2, first, last)
        merged = np.bincount(seg, minlength=len(lo))
    m_start = np.concatenate([[0], np.cumsum(merged)[:-1]])
    t0 = t[m_start]
    duration = t[m_start + merged - 1] - t0
    n = np.maximum(2, np.rint(duration / grid_ms).astype(np.intp) + 1)
    g_end = np.cumsum(n) - 1
    g_start = g_end - n + 1
    g_seg = np.repeat(np.arange(len(lo)), n)
    grid_rel = (np.arange(len(g_seg)) - g_start[g_seg]) * (duration / (n - 1))[g_seg]
    grid_rel[g_end] = duration
    # One monotone axis for all segments: each segment's times relative to its start, segments spaced apart.
    spacing = float(duration.max()) + 1.0
    axis = t - t0[seg] + seg * spacing
    query = grid_rel + g_seg * spacing
    smooth = _smooth_where(np.stack([np.interp(query, axis, px), np.interp(query, axis, py)]), g_start, g_end)
    return SegmentGrid(
        t_ms=grid_rel + t0[g_seg],
        x=smooth[0],
        y=smooth[1],
        starts=g_start,
        counts=n,
        ends=g_end,
        segment_ids=g_seg,
    )


def _smooth_where(
    values: NDArray[np.float64], starts: NDArray[np.intp], ends: NDArray[np.intp]
) -> NDArray[np.float64]:
    """``[1/4, 1/2, 1/4]`` smoothing along the last axis of every instant but each segment's first and last."""
    if values.shape[-1] < 3:
        return values
    interior = np.ones(values.shape[-1], dtype=bool)
    interior[starts] = interior[ends] = False
    smooth = 0.25 * values[..., :-2] + 0.5 * values[..., 1:-1] + 0.25 * values[..., 2:]
    out = values.copy()
    out[..., 1:-1] = np.where(interior[1:-1], smooth, values[..., 1:-1])
    return out


def _pad_instant_segments(
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    seg: NDArray[np.intp],
    instant: NDArray[np.bool_],
    first: tuple[NDArray[np.float64], NDArray[np.float64]],
    last: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Segments whose events all share one time become their first and last raw positions 1 ms apart (what
    :func:`canonical_grid` does with a teleport); the other segments are kept as they are."""
    parts_t, parts_x, parts_y, parts_s = [], [], [], []
    for k in range(len(instant)):
        keep = seg == k
        if instant[k]:
            t0 = float(t[keep][0])
            parts_t.append(np.array([t0, t0 + 1.0]))
            parts_x.append(np.array([first[0][k], last[0][k]]))
            parts_y.append(np.array([first[1][k], last[1][k]]))
            parts_s.append(np.array([k, k], dtype=np.intp))
        else:
            parts_t.append(t[keep])
            parts_x.append(x[keep])
            parts_y.append(y[keep])
            parts_s.append(seg[keep])
    return (
        np.concatenate(parts_t),
        np.concatenate(parts_x),
        np.concatenate(parts_y),
        np.concatenate(parts_s),
    )
