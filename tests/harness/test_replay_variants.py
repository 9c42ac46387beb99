"""The red team's replay variants (redteam/http_bots.py) build what they claim, and the backend refuses them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import ValidationError

from redteam.http_bots import replay_body, retargeted, with_junk_press, with_noise
from tcurity.data.adapter import to_perforation
from tcurity.geometry import random_perforation
from tcurity.sampling import Path2
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
            assert not await guard.replayed(accepted, f"first-{seed}")
            task = random_perforation(rng)
            noisy = with_noise(retargeted(accepted, task, rng), task.area_px, noise_px, rng)
            out.append(
                await guard.replayed(Trace.model_validate(replay_body(noisy, task, accepted)), f"bot-{seed}")
            )
        return out

    assert all(asyncio.run(scenario()))
