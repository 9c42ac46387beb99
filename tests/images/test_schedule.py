"""The learning-rate schedule follows the step count, and the clock only when the run is behind its budget."""

from __future__ import annotations

import math

import pytest
import torch

from tcurity.images.train import SCHEDULE_SLACK, _warmup_cosine

STEPS, WARMUP = 100, 10


def rates(clock_of_step: list[float]) -> list[float]:
    """The schedule's factor at every step, with the clock (share of the budget used) given per step."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    step = {"now": 0}
    schedule = _warmup_cosine(optimizer, STEPS, WARMUP, lambda: clock_of_step[step["now"]])
    out = []
    for i in range(STEPS):
        step["now"] = i
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return out


def by_steps(step: int) -> float:
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / (STEPS - WARMUP)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))


def test_a_run_that_keeps_to_its_budget_follows_the_steps_from_its_first_epoch() -> None:
    # Each step takes the same time and the run ends at 90 % of its budget: the warm-up's time counts, so the clock
    # (0.9 * step / STEPS) is never ahead of the schedule and the rates are the step schedule's, every one.
    assert rates([0.9 * (i + 1) / STEPS for i in range(STEPS + 1)]) == pytest.approx(
        [by_steps(i) for i in range(STEPS)]
    )


def test_a_run_behind_its_budget_decays_by_the_clock() -> None:
    # Twice as slow as the budget allows: half the steps are taken when the clock reaches its end.
    lr = rates([min(1.0, 2.0 * (i + 1) / STEPS) for i in range(STEPS + 1)])
    assert lr[60] == pytest.approx(0.01)  # the clock has run out: the floor
    assert lr[30] < by_steps(30)
    assert 2.0 * 31 / STEPS > 31 / STEPS + SCHEDULE_SLACK  # (the clock is that far ahead at step 30)
