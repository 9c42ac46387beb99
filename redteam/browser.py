"""One booking attempt in Chromium through Playwright: the shop's pages, the challenge's two phases, the booking.

A *mover* is how an attacker (or a replayed person) moves the pointer; the session flow around it is the same
for everyone and only reads what any client can see: the page, and the backend's answers to the page's own
requests. Phase A tasks come from the page's ``POST .../phase-a`` responses; Phase B answers from the answer
oracle (:mod:`redteam.oracle`), standing in for a perfect image classifier.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
from pydantic import ValidationError

from redteam.stack import Stack
from tcurity.integrity import assess
from tcurity.traces import Event, GridTask, PerforationTask, Trace, TraceArrays

# Debian's Chromium and its flags, shared with the browser tests and the Node attacker (never a downloaded browser).
_CHROMIUM = json.loads((Path(__file__).parent / "chromium.json").read_text())
CHROMIUM: str = _CHROMIUM["executable"]
CHROMIUM_ARGS: list[str] = list(_CHROMIUM["args"])
MAX_TRIES = 3  # the product's attempts per phase
WAIT_S = 30.0
CHECK = ".check"


@dataclass
class Outcome:
    """What one attempt reached. ``phase_b`` is ``None`` when Phase B was never shown."""

    phase_a: bool = False
    phase_b: bool | None = None
    booked: bool = False
    probe: bool = False  # Phase A was played by a held-out person, to measure the attacker's Phase B
    full: bool | None = None  # set where a full pass means more than both phases (the relay: its relayed use)
    error: str | None = None
    signals: list[dict[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)  # the answers sent, with what came back


class Mover(Protocol):
    def tear(self, page: Any, task: PerforationTask, box: dict[str, float]) -> None: ...

    def solve(
        self, page: Any, task: GridTask, moves: list[tuple[int, int]], box: dict[str, float]
    ) -> None: ...


# --- moving the pointer -----------------------------------------------------------------------------------------
def _px(box: dict[str, float], x: float, y: float) -> tuple[float, float]:
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


class PlaywrightMover:
    """Playwright's own ``page.mouse``: straight moves in ``steps`` equal steps (1: Playwright's default jump)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def _drag(self, page: Any, a: tuple[float, float], b: tuple[float, float]) -> None:
        page.mouse.move(*a)
        page.mouse.down()
        page.mouse.move(*b, steps=self.steps)
        page.mouse.up()

    def tear(self, page: Any, task: PerforationTask, box: dict[str, float]) -> None:
        self._drag(page, _px(box, task.start.x, task.start.y), _px(box, task.end.x, task.end.y))

    def solve(self, page: Any, task: GridTask, moves: list[tuple[int, int]], box: dict[str, float]) -> None:
        for cell, slot in moves:
            self._drag(page, _px(box, *task.cells[cell].centre), _px(box, *task.slots[slot].centre))


class TimedMover:
    """Plays composed traces (a simulator family, or a held-out person) at their own pace.

    ``via="cdp"`` dispatches each event through Chromium's input pipeline (``Input.dispatchMouseEvent``, stamped
    with its time), as a solver bot with CDP access does; ``via="playwright"`` uses ``page.mouse`` for each
    point, as a Playwright script with a humanised path generator does.
    """

    def __init__(self, tear_trace: Any, grid_trace: Any, via: str = "cdp") -> None:
        self.tear_trace = tear_trace
        self.grid_trace = grid_trace
        self.via = via

    def tear(self, page: Any, task: PerforationTask, box: dict[str, float]) -> None:
        play(page, box, self.tear_trace(task), self.via)

    def solve(self, page: Any, task: GridTask, moves: list[tuple[int, int]], box: dict[str, float]) -> None:
        play(page, box, self.grid_trace(task, moves), self.via)


def play(page: Any, box: dict[str, float], arrays: TraceArrays, via: str) -> None:
    """Dispatches ``arrays`` over ``box`` at the recorded pace (moves before a press carry no button)."""
    cdp = page.context.new_cdp_session(page) if via == "cdp" else None
    start_wall, start = time.time(), time.monotonic()
    t0 = float(arrays.t_ms[0])
    pressed = False
    for x, y, t_ms, code in zip(arrays.x, arrays.y, arrays.t_ms, arrays.event, strict=True):
        due = (float(t_ms) - t0) / 1000.0
        wait = due - (time.monotonic() - start)
        if wait > 0:
            time.sleep(wait)
        event = Event(int(code))
        px, py = _px(box, float(x), float(y))
        if cdp is None:
            page.mouse.move(px, py)
            if event == Event.DOWN:
                page.mouse.down()
            elif event in (Event.UP, Event.CANCEL):
                page.mouse.up()
            continue
        kind = {Event.DOWN: "mousePressed", Event.UP: "mouseReleased", Event.CANCEL: "mouseReleased"}.get(
            event, "mouseMoved"
        )
        pressed = event == Event.DOWN or (pressed and kind == "mouseMoved")
        cdp.send(
            "Input.dispatchMouseEvent",
            {
                "type": kind,
                "x": px,
                "y": py,
                "button": "left" if kind != "mouseMoved" or pressed else "none",
                "buttons": 1 if pressed else 0,
                "clickCount": 1 if kind != "mouseMoved" else 0,
                "timestamp": start_wall + due,
            },
        )
    if cdp is not None:
        cdp.detach()


# --- what the page asked and was told -----------------------------------------------------------------------------
class Network:
    """The challenge's requests and responses on one page, in order (a listener: nothing is missed)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.tasks: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        self.answers: dict[str, list[str]] = {"a": [], "b": []}
        self.sent: list[dict[str, Any]] = []  # {"phase", "trace", "outcome"} per answer sent
        page.on("response", self._response)

    def _phase(self, url: str) -> tuple[str, bool] | None:
        for phase in ("a", "b"):
            if url.endswith(f"/phase-{phase}"):
                return phase, False
            if url.endswith(f"/phase-{phase}/answer"):
                return phase, True
        return None

    def _response(self, response: Any) -> None:
        found = self._phase(response.url)
        if found is None or response.request.method != "POST":
            return
        phase, answer = found
        try:
            body = response.json()
        except Exception:
            body = {}
        if answer:
            outcome = str(body.get("outcome") or body.get("error", {}).get("code", "error"))
            self.answers[phase].append(outcome)
            if response.request.post_data:
                sent = json.loads(response.request.post_data)
                self.sent.append({"phase": phase, "trace": sent["trace"], "outcome": outcome})
        elif response.ok:
            self.tasks[phase].append(body)

    def wait(self, kind: str, phase: str, count: int) -> Any:
        seen = self.tasks[phase] if kind == "task" else self.answers[phase]
        deadline = time.monotonic() + WAIT_S
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} {count} for phase {phase}")
            self.page.wait_for_timeout(50)
        return seen[count - 1]


def trace_signals(trace: dict[str, Any]) -> dict[str, Any]:
    """What the browser said about the events of one sent trace (these are not model features), and the integrity
    layer's reasons for it (``None`` when the trace breaks the schema)."""
    points = trace["points"]
    try:
        integrity: list[str] | None = assess(Trace.model_validate(trace)).reasons
    except ValidationError:
        integrity = None
    t = np.asarray(points["t_ms"], dtype=np.float64)
    duration_s = max(float(t[-1] - t[0]) / 1000.0, 1e-3)
    coalesced = points.get("coalesced") or []
    trusted = points.get("trusted") or []
    return {
        "pointer_types": sorted(set(points.get("pointer_type") or [])),
        "trusted": float(np.mean(trusted)) if trusted else None,
        "coalesced_per_event": float(np.mean(coalesced)) if coalesced else None,
        "events_per_s": len(t) / duration_s,
        "integrity": integrity,
    }


def summarise_signals(signals: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float | None:
        values = [s[key] for s in signals if s[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "traces": len(signals),
        "pointer_types": sorted({p for s in signals for p in s["pointer_types"]}),
        "trusted": median("trusted"),
        "coalesced_per_event": median("coalesced_per_event"),
        "events_per_s": median("events_per_s"),
        **integrity_summary(signals),
    }


def integrity_summary(signals: list[dict[str, Any]]) -> dict[str, Any]:
    """The integrity layer's verdicts on the traces sent: the share flagged and each reason's count."""
    judged = [s["integrity"] for s in signals if s.get("integrity") is not None]
    reasons = Counter(r for found in judged for r in found)
    return {
        "integrity_flagged": round(sum(bool(found) for found in judged) / len(judged), 4) if judged else None,
        "integrity_reasons": dict(sorted(reasons.items())),
    }


# --- the shop -----------------------------------------------------------------------------------------------------
def open_booking_form(page: Any, stack: Stack, lang: str = "en") -> str:
    """Show page → queue → first free seat → booking form with name and email filled in; returns the seat."""
    page.goto(f"{stack.url}/?lang={lang}")
    page.click("#get-tickets")
    page.wait_for_selector("#step-seats:not([hidden])")
    seat = page.locator("#seat-map button:not([disabled])").first
    seat_id = str(seat.get_attribute("data-seat"))
    seat.click()
    page.click("#to-booking")
    page.fill("#name", "Kim Minji")
    page.fill("#email", "minji@example.com")
    return seat_id


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    if box is None:
        raise RuntimeError(f"{selector} is not on the page")
    return dict(box)


def oracle_answer(stack: Stack, problem_id: str) -> list[str]:
    response = httpx.get(f"{stack.ai_url}/oracle/answers/{problem_id}", timeout=10.0)
    response.raise_for_status()
    return list(response.json()["answer"])


class BookingPage(Protocol):
    """How one client drives the shop and the widget: Playwright's (:class:`PlaywrightBooking`) or the OS's
    (:class:`redteam.osinput.OsBooking`). ``issued`` and ``answered`` read the page's own exchanges (the ``k``-th
    task or answer of a phase); ``solve`` drags the tiles and confirms; ``sent`` is every answer sent, with what
    came back."""

    def open_form(self) -> None: ...

    def start_check(self) -> None: ...

    def issued(self, phase: str, k: int) -> dict[str, Any]: ...

    def answered(self, phase: str, k: int) -> str: ...

    def tear(self, task: PerforationTask) -> None: ...

    def solve(self, grid: GridTask, moves: list[tuple[int, int]]) -> None: ...

    def book(self) -> bool: ...

    def sent(self) -> list[dict[str, Any]]: ...


def oracle_moves(stack: Stack, problem: dict[str, Any]) -> list[tuple[int, int]]:
    """The drags that answer ``problem`` (cell position → slot), from the answer oracle."""
    positions = {t["tile_id"]: int(t["position"]) for t in problem["tiles"]}
    return [(positions[tile], slot) for slot, tile in enumerate(oracle_answer(stack, problem["problem_id"]))]


def run_booking(page: BookingPage, stack: Stack, outcome: Outcome) -> Outcome:
    """One booking attempt, however the pointer moves: the form, Phase A (up to the product's tries), Phase B
    (likewise), then the booking. An exception ends the attempt as ``outcome.error``; the answers sent are kept
    either way."""
    try:
        page.open_form()
        page.start_check()
        result = "retry"
        for k in range(1, MAX_TRIES + 1):
            page.tear(PerforationTask.model_validate(page.issued("a", k)["task"]))
            result = page.answered("a", k)
            if result != "retry":
                break
        outcome.phase_a = result in ("next_phase", "passed")
        if result == "next_phase":
            outcome.phase_b = False
            for k in range(1, MAX_TRIES + 1):
                issued = page.issued("b", k)
                if "task" not in issued:  # a refusal (its error code says why), not a problem
                    raise RuntimeError(f"Phase B was not issued: {issued.get('error', issued)}")
                page.solve(GridTask.model_validate(issued["task"]), oracle_moves(stack, issued["problem"]))
                result = page.answered("b", k)
                if result != "retry":
                    break
            outcome.phase_b = result == "passed"
        if result == "passed":
            outcome.booked = page.book()
    except Exception as exc:
        outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    sent = page.sent()
    outcome.signals = [trace_signals(s["trace"]) for s in sent]
    outcome.traces = sent
    return outcome


@dataclass
class PlaywrightBooking:
    """A Playwright page as a :class:`BookingPage`: CDP input through the movers, exchanges from :class:`Network`."""

    page: Any
    stack: Stack
    phase_a: Mover
    phase_b: Mover
    net: Network = field(init=False)

    def __post_init__(self) -> None:
        self.net = Network(self.page)

    def open_form(self) -> None:
        open_booking_form(self.page, self.stack)

    def start_check(self) -> None:
        self.page.locator(CHECK).click()

    def issued(self, phase: str, k: int) -> dict[str, Any]:
        return dict(self.net.wait("task", phase, k))

    def answered(self, phase: str, k: int) -> str:
        return str(self.net.wait("answer", phase, k))

    def tear(self, task: PerforationTask) -> None:
        self.page.wait_for_selector('svg[data-phase="a"]')
        self.phase_a.tear(self.page, task, _box(self.page, 'svg[data-phase="a"]'))

    def solve(self, grid: GridTask, moves: list[tuple[int, int]]) -> None:
        self.page.wait_for_selector('[data-phase="b"] .tile')
        self.phase_b.solve(self.page, grid, moves, _box(self.page, '[data-phase="b"]'))
        self.page.locator('[data-action="confirm"]').click()

    def book(self) -> bool:
        self.page.wait_for_selector('.widget[data-state="verified"]')
        self.page.click("#book")
        self.page.wait_for_selector("#result[data-ok]")
        return bool(self.page.locator("#result").get_attribute("data-ok") == "true")

    def sent(self) -> list[dict[str, Any]]:
        return self.net.sent


def attempt(page: Any, stack: Stack, phase_a: Mover, phase_b: Mover, probe: bool = False) -> Outcome:
    """One booking attempt in a Playwright page (:func:`run_booking`)."""
    return run_booking(PlaywrightBooking(page, stack, phase_a, phase_b), stack, Outcome(probe=probe))
