"""The red team's replay variants (redteam/http_bots.py) build what they claim, and the backend refuses them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import ValidationError

from redteam.http_bots import replay_attempts, replay_body, retargeted, with_junk_press, with_noise
from tcurity.data.adapter import to_perforation
from tcurity.geometry import grid_layout, random_perforation
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_b_trace
from tcurity.task_checks import drags_on_tiles
from tcurity.traces import Trace, make_trace
from web.backend.app.services.replay import ReplayGuard
from web.backend.app.store.memory import MemoryStore


def _tear(path: Path2, seed: int) -> Trace:
    task = random_perforation(np.random.default_rng(seed))
    return make_trace(to_perforation(path, task), task)


def test_the_junk_press_variant_is_refused_by_the_schema(human_paths: list[Path2]) -> None:
    accepted = _tear(human_paths[0], 0)
    rng = np.random.default_rng(0)
    task = random_perforation(rng)
    arrays = with_junk_press(retargeted(accepted, task, rng), rng)
    assert len(arrays.press_spans()) == 2
    with pytest.raises(ValidationError, match="bad_event_sequence"):
        Trace.model_validate(replay_body(arrays, task, accepted))


@pytest.mark.parametrize("noise_px", [0.5, 1.0])
def test_the_noisy_variant_is_refused_as_a_replay(human_paths: list[Path2], noise_px: float) -> None:
    rng = np.random.default_rng(1)

    async def scenario() -> list[bool]:
        guard = ReplayGuard(MemoryStore(), window_s=3600)
        out = []
        for seed, path in enumerate(human_paths[:5]):
            accepted = _tear(path, seed)
            assert not (await guard.check(accepted, f"first-{seed}")).replayed
            task = random_perforation(rng)
            noisy = with_noise(retargeted(accepted, task, rng), task.area_px, noise_px, rng)
            out.append(
                (
                    await guard.check(Trace.model_validate(replay_body(noisy, task, accepted)), f"bot-{seed}")
                ).replayed
            )
        return out

    assert all(asyncio.run(scenario()))


def test_an_earned_grid_answer_does_not_fit_the_next_problem() -> None:
    """The replay bots re-send the earned grid trace with the next problem's right tile ids: its drags start on
    the cells the earned problem's targets sat in, and the targets of the next sit elsewhere."""
    task = grid_layout(3)
    rng = np.random.default_rng(3)
    earned_cells = [2, 4, 6]
    earned = phase_b_trace(task, [(c, k) for k, c in enumerate(earned_cells)], "windmouse", rng)
    assert drags_on_tiles(task, earned, earned_cells)
    fits = 0
    for _ in range(200):
        cells = rng.choice(9, size=3, replace=False).tolist()
        fits += drags_on_tiles(task, with_noise(earned, task.area_px, 2.0, rng), cells)
    assert fits <= 2  # only when the next problem's targets sit in the very same cells (1 in 504)


def test_unknown_replay_variants_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown replay variants"):
        replay_attempts(None, None, 1, np.random.default_rng(0), ("bogus",))  # type: ignore[arg-type]
