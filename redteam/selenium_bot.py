"""The Selenium attacker: Debian's chromedriver and Chromium, ``ActionChains`` moves, the page read from the DOM.

A typical Selenium booking macro: it finds the ticket's drag handle and the perforation's end mark, and drags
one onto the other in ``ActionChains`` steps; for Phase B it drags each right tile (named by the answer oracle,
standing in for an image classifier) onto its slot. Outcomes are read from the page, as the script sees them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from redteam.browser import Outcome
from redteam.stack import Stack

CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30.0
STEPS = 10  # move_by_offset segments of one drag
SHADOW_QUERY = """
const found = [];
for (const host of document.querySelectorAll('*')) {
  if (host.shadowRoot) found.push(...host.shadowRoot.querySelectorAll(arguments[0]));
}
return found;
"""


def _driver(chromium: str, args: list[str]) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in [*args, *(["--no-sandbox"] if os.geteuid() == 0 else [])]:
        options.add_argument(arg)
    options.add_argument("--window-size=1280,900")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _until(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"waited {WAIT_S:.0f} s for {what}")


class SeleniumBot:
    """One Chromium through chromedriver, one attempt per fresh page load (cookies cleared between attempts)."""

    def __init__(self, stack: Stack, chromium: str, args: list[str]) -> None:
        self.stack = stack
        self.driver = _driver(chromium, args)

    def close(self) -> None:
        self.driver.quit()

    def _shadow(self, selector: str) -> list[Any]:
        """Elements matching ``selector`` inside the page's open shadow roots (the widget and its dialog)."""
        return list(self.driver.execute_script(SHADOW_QUERY, selector))

    def _drag(self, source: Any, target: Any) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        a, b = source.rect, target.rect
        dx = (b["x"] + b["width"] / 2) - (a["x"] + a["width"] / 2)
        dy = (b["y"] + b["height"] / 2) - (a["y"] + a["height"] / 2)
        chain = ActionChains(self.driver).move_to_element(source).click_and_hold()
        for _ in range(STEPS):
            chain.move_by_offset(round(dx / STEPS), round(dy / STEPS))
        chain.release().perform()

    def _after(self, before: Any, current: Any) -> str:
        """What the widget did after an answer: ``verified``, ``blocked`` (the widget gave up), ``b`` (Phase B
        shows, after Phase A), or ``retry`` (a new task replaced ``before``); ``""`` while it is still deciding."""
        if self._shadow('.widget[data-state="verified"]'):
            return "verified"
        if self._shadow('.widget[data-state="error"]'):
            return "blocked"
        now = current()
        if now is not None and now != before:
            return "retry"
        return ""

    def _tiles(self) -> tuple[str, ...] | None:
        tiles = self._shadow('[data-phase="b"] .tile')
        return tuple(t.get_attribute("data-tile-id") for t in tiles) or None

    def _handle(self) -> Any:
        handles = self._shadow('[data-role="handle"]')
        return handles[0] if handles else None

    def attempt(self) -> Outcome:
        from selenium.webdriver.common.by import By

        outcome = Outcome()
        driver = self.driver
        try:
            driver.delete_all_cookies()
            driver.get(f"{self.stack.url}/?lang=en")
            driver.find_element(By.ID, "get-tickets").click()
            _until(lambda: driver.find_element(By.ID, "step-seats").is_displayed(), "the seat map")
            driver.find_element(By.CSS_SELECTOR, "#seat-map button:not([disabled])").click()
            driver.find_element(By.ID, "to-booking").click()
            driver.find_element(By.ID, "name").send_keys("Kim Minji")
            driver.find_element(By.ID, "email").send_keys("minji@example.com")
            _until(lambda: self._shadow(".check"), "the widget")[0].click()
            status = "retry"
            for _ in range(3):  # the product's tries
                handle = _until(self._handle, "the ticket")
                self._drag(handle, self._shadow(".end-mark")[0])
                status = _until(
                    lambda h=handle: (self._tiles() and "b") or self._after(h, self._handle), "Phase A"
                )
                if status != "retry":
                    break
            outcome.phase_a = status in ("b", "verified")
            if status == "b":
                for _ in range(3):
                    tiles = _until(self._tiles, "the grid")
                    answer = httpx.get(f"{self.stack.ai_url}/oracle/answers/by-tile/{tiles[0]}").json()[
                        "answer"
                    ]
                    for k, tile in enumerate(answer):
                        self._drag(
                            self._shadow(f'.tile[data-tile-id="{tile}"]')[0],
                            self._shadow(f'.slot[data-slot="{k}"]')[0],
                        )
                    self._shadow('[data-action="confirm"]')[0].click()
                    status = _until(lambda t=tiles: self._after(t, self._tiles), "Phase B")
                    if status != "retry":
                        break
                outcome.phase_b = status == "verified"
            if status == "verified":
                driver.find_element(By.ID, "book").click()
                result = _until(
                    lambda: driver.find_element(By.ID, "result").get_attribute("data-ok"), "the booking"
                )
                outcome.booked = result == "true"
        except Exception as exc:
            outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return outcome
