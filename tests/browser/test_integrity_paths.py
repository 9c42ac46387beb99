"""The integrity layer on both input paths, live on Debian's Chromium with the SDK's own recorder
(:mod:`redteam.integrity_probe`): a tear driven by Playwright (DevTools input) is ``injected_input`` in an
automated browser; the same tear through the X server's XTEST (``xdotool``) into a plain headed Chromium (no
driver, no ``--enable-automation``) is clean. Each run re-checks the tells the rules rely on against today's
browser, and that the evidence the SDK sends from real OS input passes the schema (sub-events included)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from redteam.integrity_probe import SDK_DIR, record_cdp, record_os, start_xvfb
from tcurity.integrity import assess
from tcurity.traces import Trace


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A fresh Xvfb display (stopped by its own handle at the end)."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian packages: xvfb, xdotool)")
    if not (SDK_DIR / "node_modules/.bin/esbuild").exists():
        pytest.skip("the SDK's packages are not installed (web/sdk/node_modules: `make sdk`)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    server, name = start_xvfb()
    try:
        yield name
    finally:
        server.terminate()
        server.wait(10)


def sdk_trace(raw: dict[str, Any]) -> Trace:
    """The trace the SDK's recorder made of the press, through the schema every service checks."""
    return Trace.model_validate(raw["sdk_trace"])


def test_a_playwright_driven_tear_is_flagged_injected_input(display: str) -> None:
    trace = sdk_trace(record_cdp(headless=False, steps=40, display=display))
    result = assess(trace)
    assert result.reasons == ["injected_input", "automation_env"]
    assert {"coalesced_single", "fractional_steps"} <= set(result.tells)
    down = trace.points.event.index("down")
    # DevTools input never coalesces a pressed move (a hover event before the approach may hold the browser's own).
    assert trace.points.sub is None or all(i < down for i in trace.points.sub.index)


def test_os_input_through_xtest_is_not_flagged(display: str) -> None:
    trace = sdk_trace(record_os(display, steps=40))
    result = assess(trace)
    assert result.reasons == [], result.tells
    assert "coalesced_single" in result.evaluated and "fractional_steps" in result.evaluated
    assert trace.env is not None and trace.env.webdriver is False
    assert trace.points.sub is not None  # the mouse's own rate, above the frame rate
