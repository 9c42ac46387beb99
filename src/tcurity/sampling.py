"""One sampling model for every trace, so that models learn movement, not polling rates.

The human data were recorded over remote desktop at about 9 points per second (median gap 109 ms, clock
quantised to ~15.6 ms, 9 % of gaps zero); a browser delivers 60–250 pointer events per second; simulators can
emit anything. Features computed on raw events would tell these apart by their sampling alone.

So every press (human, bot or live browser) is put on the same *canonical grid* before any feature is
computed: duplicate timestamps are merged, then the path is interpolated linearly at evenly spaced instants
about ``grid_ms`` apart, from the press's first to its last event. The grid is as coarse as the human data, so no
trace carries detail the humans' recordings could not have had; finer detail (tremor above ~5 Hz) is given up
on purpose. See ``docs/sampling.md``.

:class:`HumanSampler` is the reverse: it re-emits any path with the humans' measured sampling process, used to
evaluate bots "recorded as humans were" and to test that scores do not move with the sampling rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DEFAULT_GRID_MS = 100.0


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

    @property
    def median_gap_ms(self) -> float:
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
