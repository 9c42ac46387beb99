"""Stealth CDP drivers: the forks and plugins a scalper reaches for once plain Playwright is caught.

Each one drives Debian's Chromium over the DevTools protocol, **headed** on the harness's virtual display (a
headless browser gives itself away before any plugin can help), and hides what it can of the automation:

- ``stealth_playwright``: Playwright with playwright-stealth's evasion scripts in every page (``navigator.webdriver``,
  plugins, languages, ``chrome.runtime``, WebGL vendor, the headless user agent, ``userAgentData`` brands).
- ``patchright``: a patched Playwright driver: no ``--enable-automation``, no ``Runtime.enable`` (the leak that
  the serialisation probe of open-source bot detectors finds), scripts in isolated worlds.
- ``rebrowser_playwright``: Playwright with rebrowser's patches: the ``Runtime.enable`` leak fixed, the utility
  world renamed, the source URL of injected scripts hidden.
- ``puppeteer_extra_stealth``: puppeteer-extra with puppeteer-extra-plugin-stealth (Node, ``redteam/ghost``),
  moving with ghost-cursor.

None of them changes how input reaches the page: pointer events still come from ``Input.dispatchMouseEvent``.
The Python drivers are installed by ``make redteam`` from ``requirements/redteam.txt`` (versions pinned there and
recorded in each row of the summary), never by the tests.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from redteam.browser import CHROMIUM, CHROMIUM_ARGS


@dataclass(frozen=True)
class Driver:
    """A stealth driver: the Python package that provides a Playwright-compatible sync API, and what it hides."""

    package: str  # the distribution's name (its version goes into the summary)
    module: str  # the module holding ``sync_playwright``
    hides: str
    stealth_scripts: bool = False  # playwright-stealth's evasions are applied to every context


DRIVERS: dict[str, Driver] = {
    "stealth_playwright": Driver(
        "playwright-stealth",
        "playwright.sync_api",
        "navigator.webdriver, plugins, languages, chrome.runtime, WebGL vendor, headless user agent and brands",
        stealth_scripts=True,
    ),
    "patchright": Driver(
        "patchright",
        "patchright.sync_api",
        "--enable-automation, the Runtime.enable leak, console and main-world script traces",
    ),
    "rebrowser_playwright": Driver(
        "rebrowser-playwright",
        "rebrowser_playwright.sync_api",
        "the Runtime.enable leak, the utility world's name, injected scripts' source URLs",
    ),
}


def version(package: str) -> str | None:
    """The installed version of ``package`` (``None`` when it is not installed)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def prepare_context(driver: Driver) -> Callable[[Any], None] | None:
    """What is done to each new browser context before its page opens (playwright-stealth's evasions)."""
    if not driver.stealth_scripts:
        return None
    from playwright_stealth import Stealth

    apply: Callable[[Any], None] = Stealth().apply_stealth_sync
    return apply


@contextlib.contextmanager
def launched(driver: Driver, display: str) -> Iterator[Any]:
    """Debian's Chromium launched by ``driver``'s own Playwright, headed on the X display ``display``."""
    sync_api = importlib.import_module(driver.module)
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--headless")]
    args += ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=args, headless=False, env={**os.environ, "DISPLAY": display}
        )
        try:
            yield browser
        finally:
            browser.close()
