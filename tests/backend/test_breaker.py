"""The circuit breaker's states, step by step, on a clock the test moves (web/backend/app/services/breaker.py)."""

from __future__ import annotations

from web.backend.app.services.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(changes: list[BreakerState] | None = None) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    made = CircuitBreaker(3, 10.0, on_change=None if changes is None else changes.append, clock=clock)
    return made, clock


def test_it_opens_after_failures_in_a_row_and_only_then() -> None:
    made, _ = breaker()
    made.failed()
    made.failed()
    made.succeeded()  # an answer resets the count
    made.failed()
    made.failed()
    assert (made.state, made.allow()) == ("closed", True)
    made.failed()
    assert (made.state, made.allow()) == ("open", False)


def test_after_the_open_time_one_probe_goes_out_and_decides() -> None:
    changes: list[BreakerState] = []
    made, clock = breaker(changes)
    for _ in range(3):
        made.failed()
    clock.now += 9.9
    assert made.allow() is False
    clock.now += 0.1
    assert [made.allow(), made.allow()] == [True, False]  # the probe, then everyone else waits
    made.failed()  # the probe failed: open again for a whole open time
    assert made.state == "open"
    clock.now += 10.0
    assert made.allow() is True
    made.succeeded()
    assert (made.state, made.allow(), made.allow()) == ("closed", True, True)
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


def test_a_probe_that_ends_without_a_verdict_gives_its_slot_back() -> None:
    made, clock = breaker()
    for _ in range(3):
        made.failed()
    clock.now += 10.0
    assert made.allow() is True
    made.released()  # e.g. the request was cancelled
    assert (made.state, made.allow()) == ("half_open", True)
