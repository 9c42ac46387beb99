"""The held-out people the harness replays: real recorded strokes of users no model ever trained on.

By default they are SapiMouse's evaluation users (``sapimouse_split.test_users``): people recorded in a web
browser at 60–125 Hz, the rate the SDK sees. Balabit's evaluation users (``split.test_users``, ~9 Hz
remote-desktop recordings) remain available as the second population (``population="balabit"``; the browser
tests' small champion is trained on Balabit). Strokes are cut exactly as ``prepare_humans`` cuts them (same
``params.yaml`` limits). Phase A uses one stroke per tear, after another pointing stroke of the same person as its
approach to the grip; Phase B composes one answer from the consecutive
strokes of one recorded session (:func:`tcurity.data.adapter.to_grid`). Every stroke is used once: the backend
refuses a shape it has seen in another session, and a person does not repeat a movement exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np

from tcurity.config import Params, params, resolve
from tcurity.data.adapter import (
    GridComposition,
    SessionStrokes,
    press_hold_ms,
    to_grid,
    to_perforation,
    with_approach,
)
from tcurity.data.approaches import ApproachPool
from tcurity.data.balabit import Stroke, cut_strokes, keep_within, read_session, session_files
from tcurity.data.sapimouse import cut_sessions
from tcurity.sampling import Path2
from tcurity.task_checks import check_follow
from tcurity.traces import COORD_MAX, COORD_MIN, GridTask, PerforationTask, TraceArrays

Population = Literal["sapimouse", "balabit"]


def held_out_strokes(
    p: Params,
    users: list[str],
    max_sessions_per_user: int = 4,
    population: Population = "sapimouse",
    approaches: ApproachPool | None = None,
) -> list[Stroke]:
    """Clean strokes of ``users`` (for Balabit, the first sessions of each, in file order), cut as
    ``prepare_humans`` does; every pointing stroke that may serve as an approach also goes into ``approaches``."""
    cfg = p.prepare_humans
    if population == "sapimouse":
        cut: Iterable[Stroke] = cut_sessions(resolve(p.data.sapimouse_dir), cfg.max_pause_ms, set(users))
    else:
        cut = _balabit_strokes(p, users, max_sessions_per_user)
    strokes: list[Stroke] = []
    for stroke in cut:
        if approaches is not None:
            approaches.offer(stroke)
        if keep_within(stroke, cfg):
            strokes.append(stroke)
    return strokes


def _balabit_strokes(p: Params, users: list[str], max_sessions_per_user: int) -> Iterator[Stroke]:
    per_user: dict[str, int] = defaultdict(int)
    for user, file in session_files(resolve(p.data.balabit_dir)):
        if user not in users or per_user[user] >= max_sessions_per_user:
            continue
        per_user[user] += 1
        yield from cut_strokes(
            read_session(file), user, file.stem.removeprefix("session_"), p.prepare_humans.max_pause_ms
        )


class HeldOutPeople:
    """Hands out held-out strokes for tears and sessions of strokes for grid answers, each once."""

    def __init__(
        self,
        p: Params | None = None,
        users: list[str] | None = None,
        seed: int = 0,
        population: Population = "sapimouse",
    ) -> None:
        p = p or params()
        split = p.sapimouse_split if population == "sapimouse" else p.split
        self.users = users or list(split.test_users)
        self.population = population
        cfg = p.prepare_phase_b
        self.composition = GridComposition(cfg.max_pause_ms, cfg.max_scale_ratio, cfg.target_spread)
        self.rng = np.random.default_rng(seed)
        self._approaches = ApproachPool(p.prepare_humans.approach, p.featurize.approach)
        strokes = held_out_strokes(p, self.users, population=population, approaches=self._approaches)
        by_session: dict[tuple[str, str], list[Stroke]] = defaultdict(list)
        for s in strokes:
            by_session[(s.user, s.session)].append(s)
        holds = [press_hold_ms(s.path) for s in strokes if s.kind == "drag"]
        # Sessions alternate: half of them give tears, the other half grid answers (no stroke serves both).
        keys = sorted(by_session)
        self._tears = [s for key in keys[0::2] for s in sorted(by_session[key], key=lambda s: s.stroke_id)]
        self._pools = [
            SessionStrokes(sorted(by_session[key], key=lambda s: s.stroke_id), holds) for key in keys[1::2]
        ]
        self._tears = [self._tears[i] for i in self.rng.permutation(len(self._tears))]

    def tear(self, task: PerforationTask) -> TraceArrays:
        """The next held-out stroke that follows ``task``'s perforation once mapped onto it (as evaluation does:
        strokes that cannot follow the line are not tears), after one of the same person's approaches to the grip
        (:meth:`tcurity.data.approaches.ApproachPool.draw`, as ``prepare_humans`` pairs them), when one fits."""
        while self._tears:
            stroke = self._tears.pop()
            arrays = to_perforation(stroke.path, task)
            if check_follow(task, arrays).passed:
                approach = self._approaches.draw(stroke, task, self.rng)
                return arrays if approach is None else with_approach(arrays, approach, task.area_px)
        raise LookupError("no held-out tear strokes left")

    def take_path(self) -> Path2:
        """The next held-out stroke as recorded (a replay bot's source)."""
        if not self._tears:
            raise LookupError("no held-out strokes left")
        return self._tears.pop().path

    def grid(self, task: GridTask, moves: list[tuple[int, int]]) -> TraceArrays:
        """A grid answer composed from the next recorded session with enough strokes left. An answer whose
        mapped strokes swing beyond what a trace may hold (a stroke scaled onto a short movement can overshoot
        far off the area) is set aside for the next one, as the screen edge would have stopped the person."""
        while self._pools:
            pool = self._pools[0]
            if sum(s.kind == "point" for s in pool.strokes) < 2 * len(moves):
                self._pools.pop(0)
                continue
            arrays = to_grid(pool, task, moves, self.rng, self.composition)
            inside = (
                (arrays.x >= COORD_MIN)
                & (arrays.x <= COORD_MAX)
                & (arrays.y >= COORD_MIN)
                & (arrays.y <= COORD_MAX)
            )
            if inside.all():
                return arrays
        raise LookupError("no held-out sessions left for grid answers")
