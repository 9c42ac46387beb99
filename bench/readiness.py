"""Waiting for a service a benchmark started: the one loop every benchmark uses."""

from __future__ import annotations

import time

import httpx


def wait_ok(url: str, what: str, deadline_s: float, interval_s: float = 0.3) -> None:
    """Polls ``url`` until it answers 200, for at most ``deadline_s`` seconds.

    Raises:
        SystemExit: naming ``what`` when it never did (a benchmark cannot go on without it).
    """
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval_s)
    raise SystemExit(f"{what} did not come up")
