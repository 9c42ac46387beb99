"""CPU time of whole process groups, read from ``/proc``: the portable cost of a service.

Every service a benchmark starts runs in its own session (``start_new_session=True``), so its process group id
is its pid and the group holds its workers too (uvicorn's, nginx's). Wall-clock rates depend on what else
shares the machine; CPU seconds per request do much less, so capacity is planned from them.
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def group_cpu_s(pgid: int) -> float:
    """User plus system CPU seconds of the live processes in process group ``pgid`` (Linux only)."""
    total_ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ... utime stime
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks / TICKS_PER_S


class CpuMeter:
    """CPU seconds spent by named process groups between :meth:`start` and :meth:`read`."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: group_cpu_s(pgid) for name, pgid in self.groups.items()}

    def read(self) -> dict[str, float]:
        return {name: group_cpu_s(pgid) - self._start[name] for name, pgid in self.groups.items()}
