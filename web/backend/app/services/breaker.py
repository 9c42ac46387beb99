"""A circuit breaker for the backend's calls to the AI server (closed → open → half-open → closed).

While **closed**, every call goes through and unreachable-server failures in a row are counted; a call that
reached the server resets the count. At ``failures_to_open`` failures in a row the breaker **opens**: for
``open_s`` seconds no call is made at all (the caller fails at once), so an outage is detected once and the AI
server is not hammered while it recovers. After that one call is let through as a probe (**half-open**; any
other call meanwhile still fails at once): if the probe reaches the server the breaker closes, if not it opens
again for another ``open_s``.

The state is per process (each replica detects an outage on its own, within ``failures_to_open`` calls). Every
call runs on one event loop, so no lock is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

logger = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]
# The value of the ``backend_ai_circuit_state`` gauge for each state.
STATE_VALUES: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    """Counts failures of one dependency and refuses calls while it is known to be down."""

    def __init__(
        self,
        failures_to_open: int,
        open_s: float,
        on_change: Callable[[BreakerState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures_to_open
        self.open_s = open_s
        self.clock = clock  # monotonic seconds; tests move it
        self._on_change = on_change
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose time is up reads as half-open)."""
        if self._state == "open" and self.clock() - self._opened_at >= self.open_s:
            self._set("half_open")
        return self._state

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only the first caller (the probe) gets ``True``."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        """The call reached the server (whatever it answered): the breaker closes."""
        self._probing = False
        self._failures = 0
        if self._state != "closed":
            logger.info("AI circuit closed: the AI server answers again")
            self._set("closed")

    def failed(self) -> None:
        """The call could not reach the server: counts towards opening (a failed probe re-opens at once)."""
        self._probing = False
        self._failures += 1
        if self._state == "half_open" or self._failures >= self.failures_to_open:
            if self._state != "open":
                logger.warning(
                    "AI circuit open", extra={"fields": {"failures": self._failures, "open_s": self.open_s}}
                )
            self._opened_at = self.clock()
            self._set("open")

    def released(self) -> None:
        """The call ended without a verdict on the server (e.g. cancelled): a probe slot is given back."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self._state = state
        if self._on_change is not None:
            self._on_change(state)
