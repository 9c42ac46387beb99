"""The held-out people the harness replays: real recorded strokes of users no model ever trained on.

By default they are SapiMouse's evaluation users (``sapimouse_split.test_users``): people recorded in a web
browser at 60–125 Hz, the rate the SDK sees. Balabit's evaluation users (``split.test_users``, ~9 Hz
remote-desktop recordings) remain available as the second population (``population="balabit"``; the browser
tests' small champion is trained on Balabit). Strokes are cut exactly as ``prepare_humans`` cuts them (same
``params.yaml`` limits). Phase A uses one stroke per tear; Phase B composes one answer from the consecutive
strokes of one recorded session (:func:`tcurity.data.adapter.to_grid`). Every stroke is used once: the backend
refuses a shape it has seen in another session, and a person does not repeat a movement exactly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

import numpy as np

from tcurity.config import Params, params, resolve
from tcurity.data.adapter import GridComposition, SessionStrokes, press_hold_ms, to_grid, to_perforation
from tcurity.data.balabit import Stroke, cut_strokes, keep_within, read_session, session_files
from tcurity.data.sapimouse import kept_strokes
from tcurity.sampling import Path2
from tcurity.task_checks import check_follow
from tcurity.traces import COORD_MAX, COORD_MIN, GridTask, PerforationTask, TraceArrays

Population = Literal["sapimouse", "balabit"]


def held_out_strokes(
    p: Params, users: list[str], max_sessions_per_user: int = 4, population: Population = "sapimouse"
) -> list[Stroke]:
    """Clean strokes of ``users`` (the first sessions of each, in file order), cut as ``prepare_humans`` does."""
    cfg = p.prepare_humans
    if population == "sapimouse":
        return kept_strokes(resolve(p.data.sapimouse_dir), cfg, set(users))
    per_user: dict[str, int] = defaultdict(int)
    strokes: list[Stroke] = []
    for user, file in session_files(resolve(p.data.balabit_dir)):
        if user not in users or per_user[user] >= max_sessions_per_user:
            continue
        per_user[user] += 1
        for stroke in cut_strokes(
            read_session(file), user, file.stem.removeprefix("session_"), cfg.max_pause_ms
        ):
            if keep_within(stroke, cfg):
                strokes.append(stroke)
    return strokes


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
        strokes = held_out_strokes(p, self.users, population=population)
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
        strokes that cannot follow the line are not tears)."""
        while self._tears:
            arrays = to_perforation(self._tears.pop().path, task)
            if check_follow(task, arrays).passed:
                return arrays
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
