"""Whole Phase B answers by people and by bots: the data the Phase B forest learns from and is evaluated on.

People's answers are composed from the recorded strokes of **one session at a time, in recording order**
(:func:`tcurity.data.adapter.to_grid`), so the movements of an answer come from one sitting and one hand. Both
populations are composed the same way and keep their own timing: SapiMouse (browsers, 60–125 Hz), whose train,
calib and test people are the splits ``train``, ``calib`` and ``test``, and Balabit (remote desktop, mostly
~9 Hz), whose people keep their own split with the prefix ``balabit_`` (:mod:`tcurity.data.populations`). Attacker
people of either population never answer as people.

Bots of every family answer the same random layouts, centre to centre (solver bots that know the answer). The
replay family re-uses the SapiMouse attacker people's strokes: training bots those of each attacker's
even-numbered sessions (in sorted order), evaluation bots the odd-numbered ones, so no evaluated replay re-uses a
stroke the model learned from. See ``docs/data.md`` ("Phase B").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tcurity.data import sapimouse
from tcurity.data.adapter import GridComposition, SessionStrokes, press_hold_ms, to_grid
from tcurity.data.populations import population_of
from tcurity.data.strokes import Stroke, keep_stroke
from tcurity.datasets import TraceRecord
from tcurity.features.phase_b import answer_segments
from tcurity.geometry import GridMove, random_grid_answer
from tcurity.sampling import HumanSampler, Path2
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import phase_b_trace
from tcurity.simulate.fitted import BotModel
from tcurity.simulate.human_sampling import Span, resample_spans, resampled_record
from tcurity.simulate.motion import SCRIPTED_WAITS
from tcurity.simulate.replay import pick_source
from tcurity.traces import Event, GridTask

if TYPE_CHECKING:
    from tcurity.config import GridStrokeLimits

logger = logging.getLogger(__name__)

"""A replayed stroke fits a movement within this length ratio (as the Phase A replay bot picks its sources)."""
POINTS_PER_TARGET = 2
"""Pointing strokes an answer may need per target: the approach, and the drag when no recorded drag fits."""

SplitOf = Callable[[str], str | None]
"""A person's split label, or ``None`` for a person who never answers as a human (an attacker)."""


@dataclass(frozen=True, slots=True)
class AnswerLayout:
    """How many targets a served problem has (``params.yaml: problems``)."""

    min_targets: int
    max_targets: int

    def draw(self, rng: np.random.Generator) -> tuple[GridTask, list[GridMove]]:
        """A random layout and its correct answer, as the generator serves them."""
        return random_grid_answer(rng, self.min_targets, self.max_targets)


def browser_strokes(root: Path, cut_pause_ms: float, limits: GridStrokeLimits) -> list[Stroke]:
    """Every SapiMouse movement under ``root`` that may serve in an answer: cut by the one cutter
    (:func:`tcurity.data.sapimouse.cut_sessions`, inner pauses up to ``cut_pause_ms``) and kept within
    ``limits`` (chord, duration, deviation from the chord; :func:`tcurity.data.strokes.keep_stroke`)."""
    return [
        s
        for s in sapimouse.cut_sessions(root, cut_pause_ms)
        if keep_stroke(
            s,
            limits.min_chord_px,
            limits.max_chord_px,
            limits.min_duration_ms,
            limits.max_duration_ms,
            cut_pause_ms,
            limits.max_deviation,
        )
    ]


def sessions(strokes: Iterable[Stroke]) -> dict[tuple[str, str], list[Stroke]]:
    """Strokes grouped by ``(user, session)`` in sorted key order, each group in recording order."""
    groups: dict[tuple[str, str], list[Stroke]] = defaultdict(list)
    for s in strokes:
        groups[(s.user, s.session)].append(s)
    return {key: sorted(group, key=lambda s: s.stroke_id) for key, group in sorted(groups.items())}


def press_holds_ms(
    strokes: Iterable[Stroke], users: Collection[str], fallback_users: Collection[str]
) -> dict[str, list[float]]:
    """Each of ``users``' holds between pressing and moving off in their recorded drags
    (:func:`tcurity.data.adapter.press_hold_ms`).

    A user who recorded no drag gets the holds of ``fallback_users`` (the training people: the held-out people's
    own drags never shape another person's answers).
    """
    holds: dict[str, list[float]] = defaultdict(list)
    for s in strokes:
        if s.kind == "drag" and (s.user in users or s.user in fallback_users):
            holds[s.user].append(press_hold_ms(s.path))
    pooled = [h for user in sorted(fallback_users) for h in holds.get(user, [])]
    return {user: holds[user] if holds.get(user) else pooled for user in users}


def session_answers(
    user: str,
    session: str,
    group: list[Stroke],
    holds_ms: list[float],
    split: str,
    layout: AnswerLayout,
    composition: GridComposition,
    rng: np.random.Generator,
) -> list[TraceRecord]:
    """Every answer one session can give: random layouts answered from its strokes until it runs short of
    pointing strokes (:data:`POINTS_PER_TARGET` per target; it stops before running dry)."""
    pool = SessionStrokes(list(group), list(holds_ms))
    records: list[TraceRecord] = []
    while True:
        task, moves = layout.draw(rng)
        if sum(s.kind == "point" for s in pool.strokes) < POINTS_PER_TARGET * len(moves):
            return records
        arrays = to_grid(pool, task, moves, rng, composition)
        trace_id = f"{user}-{session}-b{len(records):04d}"
        records.append(TraceRecord(trace_id, "human", "human", user, split, task, arrays))


def human_answers(
    strokes: list[Stroke],
    split_of: SplitOf,
    fallback_users: Collection[str],
    layout: AnswerLayout,
    composition: GridComposition,
    rng: np.random.Generator,
) -> list[TraceRecord]:
    """People's answers, composed session by session; each keeps its person's split label (``split_of``).

    People whose ``split_of`` is ``None`` (attackers) are left out; ``fallback_users`` lend their press holds to
    a person who recorded no drag (:func:`press_holds_ms`).
    """
    groups = sessions(strokes)
    people = {user for user, _ in groups if split_of(user) is not None}
    holds = press_holds_ms(strokes, people, fallback_users)
    records: list[TraceRecord] = []
    for (user, session), group in groups.items():
        split = split_of(user)
        if split is not None:
            records += session_answers(user, session, group, holds[user], split, layout, composition, rng)
    return records


def movement_lengths_px(task: GridTask, moves: list[GridMove]) -> list[float | None]:
    """The length of every movement a bot makes, centre to centre (``None``: the first approach, whose
    starting point the simulator draws itself)."""
    w, h = task.area_px

    def centre(kind: str, i: int) -> np.ndarray:
        rect = task.cells[i] if kind == "cell" else task.slots[i]
        return np.array([rect.centre[0] * w, rect.centre[1] * h])

    points = [p for cell, slot in moves for p in (centre("cell", cell), centre("slot", slot))]
    return [None] + [float(np.hypot(*(b - a))) for a, b in pairwise(points)]


def replay_sources(
    sources: list[Stroke], lengths: list[float | None], rng: np.random.Generator
) -> list[Path2]:
    """One recorded stroke per movement, of about its length when one fits (as a careful attacker picks)."""
    return [pick_source(sources, length, rng).path for length in lengths]


def bot_answers(
    family: str,
    n: int,
    split: str,
    layout: AnswerLayout,
    rng: np.random.Generator,
    sources: list[Stroke],
    scripted_waits: float = 0.0,
    models: dict[str, BotModel] | None = None,
) -> list[TraceRecord]:
    """``n`` correct answers of one family; a ``scripted_waits`` share of them with a script's human-like waits
    around the tool's moves (``-sw`` in their ids). ``sources`` are the strokes a replay family replays; fitted
    families draw from their model in ``models`` (``fit_bot_models``)."""
    model = (models or {}).get(family)
    records = []
    for i in range(n):
        task, moves = layout.draw(rng)
        paths = (
            replay_sources(sources, movement_lengths_px(task, moves), rng)
            if FAMILIES[family].needs_source
            else None
        )
        waits = scripted_waits > 0.0 and rng.random() < scripted_waits
        arrays = phase_b_trace(
            task, moves, family, rng, sources=paths, timing=SCRIPTED_WAITS if waits else None, model=model
        )
        trace_id = f"{family}-{split}-{i:05d}{'-sw' if waits else ''}"
        records.append(TraceRecord(trace_id, "bot", family, "", split, task, arrays))
    return records


def every_family(
    n: int,
    split: str,
    layout: AnswerLayout,
    rng: np.random.Generator,
    sources: list[Stroke],
    scripted_waits: float = 0.0,
    models: dict[str, BotModel] | None = None,
) -> list[TraceRecord]:
    """:func:`bot_answers` of every family of :data:`tcurity.simulate.FAMILIES`, in sorted order, from one
    stream ``rng``."""
    out: list[TraceRecord] = []
    for family in sorted(FAMILIES):
        out += bot_answers(family, n, split, layout, rng, sources, scripted_waits, models)
    logger.info("%d %s answers of every family", n, split)
    return out


def attacker_sources(strokes: Iterable[Stroke], attackers: Collection[str]) -> dict[str, list[Stroke]]:
    """The attacker people's strokes: their even-numbered sessions (sorted, from 0) for the training bots
    (``train``), the odd-numbered ones for the evaluation bots (``test``)."""
    mine = [s for s in strokes if s.user in attackers]
    by_user: dict[str, list[str]] = defaultdict(list)
    for user, session in sessions(mine):
        by_user[user].append(session)
    out: dict[str, list[Stroke]] = {"train": [], "test": []}
    for s in mine:
        out["train" if by_user[s.user].index(s.session) % 2 == 0 else "test"].append(s)
    return out


def answer_with_human_sampling(
    record: TraceRecord, sampler: HumanSampler, rng: np.random.Generator
) -> TraceRecord:
    """A Phase B bot's answer with every approach and drag re-emitted as the people were sampled."""
    assert isinstance(record.task, GridTask)
    seg = answer_segments(record.task, record.arrays)
    spans: list[Span] = []
    for start, down, up in zip(seg.approach_starts, seg.downs, seg.ups, strict=True):
        spans += [Span(start, down, Event.MOVE, Event.DOWN), Span(down, up, Event.MOVE, Event.UP, skip=1)]
    return resampled_record(record, resample_spans(record.arrays, spans, sampler, rng))


def answers_per_user(records: Iterable[TraceRecord]) -> dict[str, int]:
    """How many answers each person gave, people in sorted order."""
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r.user] += 1
    return dict(sorted(counts.items()))


def summary(people: list[TraceRecord], bots: list[TraceRecord]) -> dict[str, object]:
    """Answers by split, by population (with the spread of answers per person) and by person; bots by split."""
    per_user = answers_per_user(people)
    by_population: dict[str, dict[str, float]] = {}
    for population in ("sapimouse", "balabit"):
        counts = np.array([n for u, n in per_user.items() if population_of(u) == population])
        if len(counts):
            by_population[population] = {
                "people": len(counts),
                "answers": int(counts.sum()),
                "per_person_min": int(counts.min()),
                "per_person_median": float(np.median(counts)),
                "per_person_max": int(counts.max()),
            }
    return {
        "humans_by_split": {s: sum(r.split == s for r in people) for s in sorted({r.split for r in people})},
        "humans_by_population": by_population,
        "humans_by_user": per_user,
        "bots_by_split": {s: sum(r.split == s for r in bots) for s in ("train", "test")},
    }
