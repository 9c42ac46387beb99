"""People's approaches to a tear: their own pointing strokes, ending on the ticket's grip.

A live tear begins with the pointer travelling to the grip (:mod:`tcurity.features.approach`). The data sets hold
that movement as *pointing strokes* (the pointer leaves rest and ends in a press, :mod:`tcurity.data.strokes`), cut
by the same rule the approach is cut by in serving. Each human Phase A trace gets one of its own person's other
pointing strokes as its approach (:func:`tcurity.data.adapter.place_approach`): moved to end on the grip and turned,
never scaled or re-timed, since an approach's distance and duration are the person's own. The tear and the
approach were recorded at different moments of the same person's session; the pairing is the limit of the data,
and ``docs/data.md`` says so. Beside the pairs, the approach layers learn from every person's approaches
(:meth:`ApproachPool.people`, ``approaches.parquet``), many more than there are tears.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from tcurity.data.adapter import place_approach
from tcurity.data.populations import population_of
from tcurity.data.strokes import Stroke
from tcurity.features.approach import ApproachLimits, judged
from tcurity.sampling import Path2
from tcurity.traces import PerforationTask

if TYPE_CHECKING:
    from tcurity.config import HumanApproachParams

# How many of a person's approaches are tried before a tear is left without one (each try turns it 32 ways).
_DRAWS = 6


def approach_stroke(stroke: Stroke, cfg: HumanApproachParams, limits: ApproachLimits) -> Path2 | None:
    """The part of a pointing stroke the approach layer would judge, when it fits the approach limits: no more
    than ``cfg.max_chord_px`` long, lasting ``cfg.min_duration_ms`` … ``cfg.max_duration_ms`` and within
    ``cfg.max_deviation`` chord lengths of its chord; ``None`` for drags and for what does not fit."""
    if stroke.kind != "point":
        return None
    path = judged(stroke.path, limits)
    if path is None:
        return None
    chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
    if chord > cfg.max_chord_px or not cfg.min_duration_ms <= path.duration_ms <= cfg.max_duration_ms:
        return None
    cross = np.abs(
        (path.x[-1] - path.x[0]) * (path.y - path.y[0]) - (path.y[-1] - path.y[0]) * (path.x - path.x[0])
    )
    return path if float(np.max(cross)) / chord**2 <= cfg.max_deviation else None


class ApproachPool:
    """Every usable approach of every person, by user, as the strokes are cut (:meth:`offer`), drawn from by
    :meth:`draw`."""

    def __init__(self, cfg: HumanApproachParams, limits: ApproachLimits) -> None:
        self._cfg = cfg
        self._limits = limits
        self._by_user: dict[str, list[Stroke]] = defaultdict(list)

    def offer(self, stroke: Stroke) -> None:
        """Keeps the stroke's approach (:func:`approach_stroke`) when it has one."""
        path = approach_stroke(stroke, self._cfg, self._limits)
        if path is not None:
            self._by_user[stroke.user].append(replace(stroke, path=path))

    def people(self, users: Collection[str], cap: int, rng: np.random.Generator) -> list[Stroke]:
        """Every approach of ``users`` (users in sorted order), at most ``cap`` of each (a seeded pick, order kept):
        what the approach layers learn people's pointing from."""
        out: list[Stroke] = []
        for user in sorted(set(users) & set(self._by_user)):
            kept = self._by_user[user]
            if len(kept) > cap:
                kept = [kept[i] for i in np.sort(rng.choice(len(kept), cap, replace=False))]
            out.extend(kept)
        return out

    def draw(self, tear: Stroke, task: PerforationTask, rng: np.random.Generator) -> Path2 | None:
        """One of the tear's person's approaches but the tear itself, placed to end on the task's grip (the
        perforation's start), or ``None`` when none of a few drawn fits around the ticket."""
        own = [s.path for s in self._by_user.get(tear.user, []) if s.stroke_id != tear.stroke_id]
        if not own:
            return None
        w, h = task.area_px
        grip = (task.start.x * w, task.start.y * h)
        for i in rng.choice(len(own), size=min(_DRAWS, len(own)), replace=False):
            placed = place_approach(own[int(i)], grip, task.area_px, rng)
            if placed is not None:
                return placed
        return None

    def counts_by_population(self) -> dict[str, int]:
        """How many approaches each population gave."""
        counts: dict[str, int] = defaultdict(int)
        for user, strokes in self._by_user.items():
            counts[population_of(user)] += len(strokes)
        return dict(counts)
