"""The replay index keeps only passing answers: a bounded index cannot be flushed with answers that cost nothing.

Real strokes of one Balabit user (user12): a person's tear passes and stays; an attacker then sends many junk tears
(other strokes with 6 px of noise, each its own session) that fail, and finally the person's tear re-targeted with
0.5 px of noise. The index holds 8 entries here, so without taking the failed answers' marks back the person's
profile would be gone by then.
"""

from __future__ import annotations

import asyncio

import numpy as np

from redteam.http_bots import replay_body, retargeted, with_noise
from tcurity.config import PROJECT_ROOT
from tcurity.data.adapter import to_perforation
from tcurity.data.balabit import cut_strokes, keep_stroke, read_session
from tcurity.geometry import random_perforation
from tcurity.sampling import Path2
from tcurity.traces import Trace, make_trace
from web.backend.app.services.replay import ReplayGuard
from web.backend.app.store.memory import MemoryStore

INDEX_SIZE = 8
JUNK = 20


def strokes() -> list[Path2]:
    folder = PROJECT_ROOT / "data/raw/balabit-mouse/training_files/user12"
    session = sorted(folder.glob("*.csv.gz"))[0]
    cut = cut_strokes(read_session(session), "user12", "s", 400.0)
    return [s.path for s in cut if keep_stroke(s, 120.0, 450.0, 300.0, 3000.0, 400.0, 0.1)]


def tear(path: Path2, seed: int) -> Trace:
    task = random_perforation(np.random.default_rng(seed))
    return make_trace(to_perforation(path, task), task)


async def noisy_replay_after_junk(forget_failed: bool) -> bool:
    """Whether the person's tear, replayed with 0.5 px of noise after ``JUNK`` failed answers, is refused."""
    paths, rng = strokes(), np.random.default_rng(7)
    guard = ReplayGuard(MemoryStore(), window_s=86_400, max_profiles=INDEX_SIZE)
    person = tear(paths[0], 0)
    assert not (await guard.check(person, "person")).replayed  # it passes: its marks stay
    for i in range(JUNK):
        source = tear(paths[1 + i % (len(paths) - 1)], 1000 + i)
        task = random_perforation(rng)
        junk = with_noise(retargeted(source, task, rng), task.area_px, 6.0, rng)
        check = await guard.check(Trace.model_validate(replay_body(junk, task, source)), f"junk-{i}")
        if forget_failed:  # the answer failed (geometry, the models): the flow takes its marks back
            await guard.forget(check, f"junk-{i}")
    task = random_perforation(rng)
    noisy = with_noise(retargeted(person, task, rng), task.area_px, 0.5, rng)
    return (await guard.check(Trace.model_validate(replay_body(noisy, task, person)), "bot")).replayed


def test_failed_answers_cannot_flush_a_passing_answer_out_of_the_index() -> None:
    assert asyncio.run(noisy_replay_after_junk(forget_failed=True))


def test_without_taking_failed_answers_back_the_bounded_index_forgets() -> None:
    # The weakness the flow closes: kept junk pushes the person's profile out of the 8-entry index.
    assert not asyncio.run(noisy_replay_after_junk(forget_failed=False))
