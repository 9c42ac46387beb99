"""The challenge in a real browser (Debian's Chromium) on the demo shop, through nginx, against the real backend
and a real Phase A model: a held-out human passes both phases and books; scripted pointers fail Phase A and
the shop refuses them; the dialog works with the keyboard alone. Screenshots of each phase go to
``reports/browser/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from redteam.browser import open_booking_form, play
from redteam.stack import Stack
from tcurity.data.adapter import to_perforation
from tcurity.sampling import Path2
from tcurity.traces import PerforationTask

ANSWER_A = "**/phase-a/answer"
DEEP_ACTIVE = """() => {
  let node = document.activeElement;
  while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement;
  return node ? (node.getAttribute('data-role') || node.getAttribute('data-action') || node.className.baseVal || node.className) : null;
}"""


def _is_task(path: str) -> Any:
    return lambda r: r.url.endswith(path) and r.request.method == "POST"


class Tasks:
    """Every Phase A task the page was issued, in order (a listener, so no response is missed)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.issued: list[PerforationTask] = []
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        if response.url.endswith("/phase-a") and response.request.method == "POST" and response.ok:
            self.issued.append(PerforationTask.model_validate(response.json()["task"]))

    def wait_for(self, count: int) -> PerforationTask:
        for _ in range(200):
            if len(self.issued) >= count:
                self.page.wait_for_selector('svg[data-phase="a"]')
                return self.issued[count - 1]
            self.page.wait_for_timeout(50)
        raise AssertionError(f"task {count} was never issued")


def open_challenge(page: Any) -> tuple[Tasks, PerforationTask]:
    """Clicks the widget; returns the task watcher and the first Phase A task the dialog shows."""
    tasks = Tasks(page)
    page.locator(".check").click()
    return tasks, tasks.wait_for(1)


def ticket_box(page: Any) -> dict[str, float]:
    box = page.locator('svg[data-phase="a"]').bounding_box()
    assert box is not None
    return dict(box)


def tear_like_a_human(page: Any, tasks: Tasks, strokes: list[Path2]) -> dict[str, Any]:
    """Replays held-out strokes (a new task after each retry) until an answer is not ``retry``; takes the strokes
    it uses out of ``strokes`` (each answers one session only)."""
    result: dict[str, Any] = {}
    for attempt in range(1, 4):
        path = strokes.pop(0)
        task = tasks.wait_for(attempt)
        with page.expect_request(ANSWER_A) as sent, page.expect_response(ANSWER_A) as answered:
            play(page, ticket_box(page), to_perforation(path, task), "cdp")
        recorded = json.loads(sent.value.post_data or "{}")["trace"]["points"]["t_ms"]
        assert (
            abs((recorded[-1] - recorded[0]) - path.duration_ms) <= 0.15 * path.duration_ms + 50
        )  # real timings
        result = answered.value.json()
        if result["outcome"] != "retry":
            return result
    return result


def drag(page: Any, source: Any, target: Any, rng: np.random.Generator) -> None:
    """A mouse drag with an eased approach, a pause and a jittered path (Phase B's double only counts presses)."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] * 0.45, a["y"] + a["height"] * 0.5, steps=int(rng.integers(6, 12)))
    page.wait_for_timeout(int(rng.integers(120, 260)))
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.55, steps=int(rng.integers(14, 24)))
    page.wait_for_timeout(int(rng.integers(80, 160)))
    page.mouse.up()


def test_a_human_passes_both_phases_and_books(
    page: Any, stack: Stack, human_strokes: list[Path2], screenshots: Path
) -> None:
    problems: list[str] = []  # CSP violations, script errors: the SDK must run clean under nginx's CSP
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    seat = open_booking_form(page, stack)
    tasks, _ = open_challenge(page)
    dialog = page.locator('[role="dialog"]')
    assert dialog.get_attribute("aria-modal") == "true"
    page.screenshot(path=screenshots / "phase_a.png")

    with page.expect_response(_is_task("/phase-b")) as issued:
        result = tear_like_a_human(page, tasks, human_strokes)
        assert result["outcome"] == "next_phase", result
    problem = issued.value.json()["problem"]
    page.wait_for_selector('[data-phase="b"] .tile')
    assert page.locator(".status").inner_text() == "Torn."  # not a stale "Checking…" over the new step
    page.screenshot(path=screenshots / "phase_b.png")
    assert problem["target"]["en"] in page.locator(".target").inner_text()

    answer = httpx.get(f"{stack.ai_url}/oracle/answers/{problem['problem_id']}").json()["answer"]
    rng = np.random.default_rng(7)
    for k, tile_id in enumerate(answer):
        drag(
            page,
            page.locator(f'.tile[data-tile-id="{tile_id}"]'),
            page.locator(f'.slot[data-slot="{k}"]'),
            rng,
        )
    page.screenshot(path=screenshots / "phase_b_filled.png")
    with (
        page.expect_request("**/phase-b/answer") as sent,
        page.expect_response("**/phase-b/answer") as answered,
    ):
        page.locator('[data-action="confirm"]').click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["tile_ids"] == answer
    assert set(body["trace"]["points"]["pointer_type"]) == {"mouse"}
    assert all(body["trace"]["points"]["trusted"])
    assert answered.value.json()["outcome"] == "passed"

    page.wait_for_selector('.widget[data-state="verified"]')
    token = page.locator('input[name="tcurity-response"]').input_value()
    assert token.count(".") == 2
    page.click("#book")
    page.wait_for_selector('#result[data-ok="true"]')
    assert f"Seat {seat} is yours" in page.locator("#result-primary").inner_text()
    assert f"{seat} 좌석이 예매되었습니다" in page.locator("#result-secondary").inner_text()
    page.screenshot(path=screenshots / "booked.png", full_page=True)
    assert problems == []


@pytest.mark.parametrize("steps", [1, 25], ids=["jump", "linear"])
def test_a_scripted_pointer_fails_phase_a_and_cannot_book(
    page: Any, stack: Stack, steps: int, screenshots: Path
) -> None:
    open_booking_form(page, stack)
    _, task = open_challenge(page)
    box = ticket_box(page)
    w, h = box["width"], box["height"]
    start = (box["x"] + task.start.x * w, box["y"] + task.start.y * h)
    end = (box["x"] + task.end.x * w, box["y"] + task.end.y * h)
    with page.expect_request(ANSWER_A) as sent, page.expect_response(ANSWER_A) as answered:
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=steps)
        page.mouse.up()
    events = json.loads(sent.value.post_data or "{}")["trace"]["points"]["event"]
    # One press; before it, the one move Playwright's jump onto the grip gave (no way to the grip to judge).
    assert events.count("down") == 1 and events.index("down") <= 1 and events[-1] == "up"
    assert answered.value.json()["outcome"] == "retry"
    page.wait_for_selector('.status[data-tone="error"]')
    page.screenshot(path=screenshots / f"bot_{'jump' if steps == 1 else 'linear'}_refused.png")

    page.keyboard.press("Escape")
    assert page.locator('input[name="tcurity-response"]').input_value() == ""
    page.click("#book")
    page.wait_for_selector('#result[data-ok="false"]')
    assert "complete the security check" in page.locator("#result-primary").inner_text()


def test_the_dialog_works_with_the_keyboard_alone(page: Any, stack: Stack, screenshots: Path) -> None:
    open_booking_form(page, stack, lang="ko")
    page.focus("#email")
    page.keyboard.press("Tab")
    assert page.evaluate(DEEP_ACTIVE) == "check"
    with page.expect_response(_is_task("/phase-a")):
        page.keyboard.press("Enter")
    page.wait_for_selector('svg[data-phase="a"]')
    assert page.evaluate(DEEP_ACTIVE) == "handle"
    assert page.locator("h2.title").inner_text() == "보안 확인"

    seen = set()
    for _ in range(6):  # the focus trap keeps Tab inside the dialog
        page.keyboard.press("Tab")
        seen.add(page.evaluate(DEEP_ACTIVE))
    assert seen <= {"handle", "close"}, seen
    page.locator('[data-role="handle"]').focus()

    with page.expect_request(ANSWER_A) as sent, page.expect_response(ANSWER_A) as answered:
        for _ in range(10):
            page.keyboard.press("ArrowDown")
    points = json.loads(sent.value.post_data or "{}")["trace"]["points"]
    assert "pointer_type" not in points and "coalesced" not in points  # honestly marked as not a pointer
    assert all(points["trusted"])
    assert points["event"][0] == "down" and points["event"][-1] == "up"
    assert answered.value.json()["outcome"] in {"retry", "next_phase", "blocked"}
    page.wait_for_timeout(300)
    page.screenshot(path=screenshots / "keyboard.png")

    page.keyboard.press("Escape")
    assert page.locator('[role="dialog"]').count() == 0
    assert page.evaluate(DEEP_ACTIVE) == "check"
