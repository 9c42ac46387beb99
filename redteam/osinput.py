"""Real OS-level input: a headed Chromium on a virtual X display, its pointer moved through the X server's XTEST.

This is how a person's hand reaches a browser, and how a scalper's pyautogui-style bot does once CDP input is
caught: the events enter Chromium from the X server, so they are coalesced, carry screen coordinates and movement
deltas, and are dispatched on the browser's own frames, exactly as a mouse's would be.

- :class:`VirtualDisplay` runs ``Xvfb`` on a free display number and stops it by pid.
- :class:`PlainChromium` launches Debian's Chromium as a plain process: headed, no ``--enable-automation``, no
  driver. Its DevTools port is used only to *read*: the page's layout (``DOM``) and the challenge's own
  requests and responses (``Network``). The ``Runtime`` domain is never enabled and no script is ever evaluated
  in the page, so the page sees no trace of an attached debugger.
- :class:`XPointer` moves, presses and types through XTEST (python-xlib; ``xdotool`` for text).
- :func:`os_attempt` is one booking attempt: the flow of :func:`redteam.browser.run_booking` (the same as the
  Playwright attempts'), driven by :class:`OsBooking`, which sends every click, keystroke and drag as OS input.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from redteam.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_S, Outcome, run_booking
from redteam.stack import Stack
from tcurity.traces import Event, GridTask, PerforationTask, TraceArrays

logger = logging.getLogger(__name__)

SCREEN = (1280, 900)
POLL_MS = 8.0  # a mouse's report interval (125 Hz): what the pointer's scored movements are played at
ANSWER_PATHS = {"/phase-a": ("a", False), "/phase-b": ("b", False)}
ANSWER_PATHS.update({f"{path}/answer": (phase, True) for path, (phase, _) in list(ANSWER_PATHS.items())})


def available() -> str | None:
    """Why the OS-input path cannot run here (``None`` when it can): Xvfb, xdotool, python-xlib, Chromium."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt: xvfb, xdotool; make setup)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    try:
        import Xlib  # noqa: F401
    except ImportError:
        return "python-xlib is not installed (make setup)"
    return None


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stops a process this module started (by its pid): terminate, then kill after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the X server -------------------------------------------------------------------------------------------------
class VirtualDisplay:
    """``Xvfb`` on the first free display number (``-displayfd``), 24-bit, no TCP listener; stopped by pid."""

    def __init__(self, size: tuple[int, int] = SCREEN) -> None:
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{size[0]}x{size[1]}x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            raise RuntimeError("Xvfb did not start")
        self.name = f":{number}"
        self.size = size

    def stop(self) -> None:
        stop_process(self.process)


class XPointer:
    """The pointer and keyboard of one X display, driven through XTEST: what the browser gets is OS input."""

    def __init__(self, display: VirtualDisplay) -> None:
        from Xlib import display as xdisplay

        self.display_name = display.name
        self.x = xdisplay.Display(display.name)
        self.position = (display.size[0] / 2.0, display.size[1] / 2.0)

    def move(self, x: float, y: float) -> None:
        """Moves the pointer to the screen pixel nearest ``(x, y)`` (a mouse's positions are whole pixels)."""
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self.x, X.MotionNotify, x=round(x), y=round(y))
        self.x.sync()
        self.position = (x, y)

    def button(self, down: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self.x, X.ButtonPress if down else X.ButtonRelease, 1)
        self.x.sync()

    def type(self, text: str) -> None:
        """Types ``text`` through XTEST key events (``xdotool type``: it maps every character to a keycode)."""
        env = {**os.environ, "DISPLAY": self.display_name}
        subprocess.run(["xdotool", "type", "--delay", "45", text], env=env, check=True, timeout=30)

    def close(self) -> None:
        self.x.close()


def glide_path(
    a: tuple[float, float], b: tuple[float, float], rng: np.random.Generator
) -> Iterator[tuple[float, float, float]]:
    """A quick minimum-jerk glide from ``a`` to ``b`` at a mouse's 125 Hz, as ``(x, y, seconds from its start)``.

    Only for moving between the shop's buttons and fields, which nothing scores; the scored movements are played
    from their own traces."""
    distance = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    duration_ms = 180.0 + 110.0 * np.log2(1.0 + distance / 40.0) + rng.uniform(0.0, 80.0)
    steps = max(2, int(duration_ms / POLL_MS))
    bow = rng.normal(0.0, 0.08) * distance
    normal = np.array([-(b[1] - a[1]), b[0] - a[0]]) / max(distance, 1e-9)
    for k in range(1, steps + 1):
        s = k / steps
        eased = 10 * s**3 - 15 * s**4 + 6 * s**5
        off = bow * 4 * s * (1 - s)
        yield (
            a[0] + eased * (b[0] - a[0]) + off * normal[0],
            a[1] + eased * (b[1] - a[1]) + off * normal[1],
            (k * POLL_MS / 1000.0),
        )


# --- reading the page through DevTools, without the Runtime domain ----------------------------------------------
class DevTools:
    """A minimal DevTools-protocol client on one page target: commands and events, read on a thread of its own."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._connection = contextlib.ExitStack()
        self.ws = self._connection.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self._id = 0
        self._results: dict[int, dict[str, Any]] = {}
        self._ready = threading.Condition()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    with self._ready:
                        self._results[int(message["id"])] = message
                        self._ready.notify_all()
                else:
                    self.events.put(message)
        except Exception:  # the browser went away: pending commands time out
            logger.debug("DevTools connection closed", exc_info=True)

    def send(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        if method.startswith("Runtime."):
            raise ValueError("the OS-input path never attaches the Runtime domain")
        with self._ready:
            self._id += 1
            call = self._id
        self.ws.send(json.dumps({"id": call, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while call not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"DevTools {method} did not answer")
                self._ready.wait(left)
            message = self._results.pop(call)
        if "error" in message:
            raise RuntimeError(f"DevTools {method}: {message['error'].get('message')}")
        return dict(message.get("result", {}))

    def close(self) -> None:
        self._connection.close()


@dataclass
class Node:
    """One element of the page (shadow roots included), as ``DOM.getDocument`` describes it."""

    backend_id: int
    name: str
    attributes: dict[str, str]
    children: list[Node] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.walk()


def _node(raw: dict[str, Any]) -> Node:
    flat = raw.get("attributes") or []
    kids = [*(raw.get("shadowRoots") or []), *(raw.get("children") or [])]
    return Node(
        int(raw["backendNodeId"]),
        str(raw.get("localName") or raw.get("nodeName", "")).lower(),
        dict(zip(flat[0::2], flat[1::2], strict=True)),
        [_node(k) for k in kids],
    )


_COMPOUND = re.compile(
    r"(?P<tag>^[a-z][a-z0-9-]*)|#(?P<id>[\w-]+)|\.(?P<cls>[\w-]+)|:not\(\[(?P<neg>[\w-]+)\]\)|"
    r"\[(?P<attr>[\w-]+)(?:=\"?(?P<value>[^\]\"]*)\"?)?\]"
)


def _matches(node: Node, compound: str) -> bool:
    """Whether ``node`` matches one compound selector: ``tag#id.class[attr][attr="v"]:not([attr])``."""
    for m in _COMPOUND.finditer(compound):
        if m["tag"] and node.name != m["tag"]:
            return False
        if m["id"] and node.attributes.get("id") != m["id"]:
            return False
        if m["cls"] and m["cls"] not in node.attributes.get("class", "").split():
            return False
        if m["neg"] and m["neg"] in node.attributes:
            return False
        if m["attr"] and (
            m["attr"] not in node.attributes
            or (m["value"] is not None and node.attributes[m["attr"]] != m["value"])
        ):
            return False
    return True


def select(root: Node, selector: str) -> list[Node]:
    """The elements matching ``selector`` (compound selectors joined by descendant spaces), through shadow roots."""
    scopes = [root]
    for compound in selector.split():
        found: list[Node] = []
        for scope in scopes:
            found += [n for n in scope.walk() if _matches(n, compound) and n not in found]
        scopes = found
    return scopes


class PlainChromium:
    """Debian's Chromium as a plain headed process on ``display``, in a fresh profile: a normal window with its
    toolbar, so the page's screen coordinates sit below the browser's chrome as on a person's desktop."""

    def __init__(self, display: VirtualDisplay, url: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="tcurity-os-chromium-"))
        args = [a for a in CHROMIUM_ARGS if not a.startswith("--headless")]
        args += ["--no-sandbox"] if os.geteuid() == 0 else []
        args += [
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "--disable-blink-features=AutomationControlled",
            "--remote-allow-origins=http://127.0.0.1",
            "--window-position=0,0",
            f"--window-size={display.size[0]},{display.size[1]}",
            "--force-device-scale-factor=1",
            "--no-default-browser-check",
            "--password-store=basic",
            "--lang=en-GB",
            url,
        ]
        env = {**os.environ, "DISPLAY": display.name}
        self.process = subprocess.Popen(
            [CHROMIUM, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.port = self._port()
        self.tools = DevTools(self._page_socket())

    def _port(self) -> int:
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if active.exists() and active.read_text().strip():
                return int(active.read_text().splitlines()[0])
            if self.process.poll() is not None:
                raise RuntimeError(f"Chromium exited ({self.process.returncode})")
            time.sleep(0.1)
        raise TimeoutError("Chromium opened no DevTools port")

    def _page_socket(self) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5.0).json()
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise TimeoutError("Chromium opened no page")

    def close(self) -> None:
        try:
            self.tools.close()
        finally:
            stop_process(self.process)
            shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class Exchange:
    """One challenge request the page made, with what came back."""

    phase: str
    answer: bool
    request_id: str
    body: dict[str, Any] | None = None
    sent: dict[str, Any] | None = None


class OsPage:
    """The shop's page seen through DOM and Network reads, acted on through the X pointer and keyboard."""

    def __init__(self, browser: PlainChromium, pointer: XPointer, rng: np.random.Generator) -> None:
        self.tools = browser.tools
        self.pointer = pointer
        self.rng = rng
        self.exchanges: list[Exchange] = []
        self._pending: dict[str, Exchange] = {}
        self.loads = 0
        for domain in ("Page", "DOM", "Network"):
            self.tools.send(f"{domain}.enable")
        self.origin = self._viewport_origin()

    def _viewport_origin(self) -> tuple[float, float]:
        """Where the page's viewport starts on the screen: the window's corner plus any browser chrome above it."""
        window = self.tools.send("Browser.getWindowForTarget")["bounds"]
        viewport = self.tools.send("Page.getLayoutMetrics")["cssVisualViewport"]
        top = float(window.get("top", 0)) + max(
            0.0, float(window["height"]) - float(viewport["clientHeight"])
        )
        return float(window.get("left", 0)), top

    # Network: the page's own challenge requests, read as they finish.
    def pump(self) -> None:
        while True:
            try:
                event = self.tools.events.get_nowait()
            except queue.Empty:
                return
            self._on(event["method"], event.get("params", {}))

    def _on(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self.loads += 1
        elif method == "Network.requestWillBeSent" and params["request"]["method"] == "POST":
            path = httpx.URL(params["request"]["url"]).path
            for suffix, (phase, answer) in ANSWER_PATHS.items():
                if path.endswith(suffix):
                    self._pending[params["requestId"]] = Exchange(phase, answer, params["requestId"])
                    break
        elif method == "Network.loadingFinished" and params["requestId"] in self._pending:
            exchange = self._pending.pop(params["requestId"])
            exchange.body = self._body(exchange.request_id)
            if exchange.answer:
                posted = self.tools.send("Network.getRequestPostData", {"requestId": exchange.request_id})
                exchange.sent = json.loads(posted["postData"])
            self.exchanges.append(exchange)
        elif method == "Network.loadingFailed":
            self._pending.pop(params["requestId"], None)

    def _body(self, request_id: str) -> dict[str, Any]:
        got = self.tools.send("Network.getResponseBody", {"requestId": request_id})
        text = base64.b64decode(got["body"]).decode() if got.get("base64Encoded") else got["body"]
        try:
            return dict(json.loads(text))
        except ValueError:
            return {}

    def wait_exchange(self, phase: str, answer: bool, count: int) -> Exchange:
        """The ``count``-th finished request of that kind (task or answer) for ``phase``."""
        deadline = time.monotonic() + WAIT_S
        while True:
            self.pump()
            seen = [e for e in self.exchanges if e.phase == phase and e.answer == answer]
            if len(seen) >= count:
                return seen[count - 1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {'answer' if answer else 'task'} {count} for phase {phase}")
            time.sleep(0.05)

    # DOM: layout reads only.
    def navigate(self, url: str) -> None:
        """Opens ``url`` and waits for its load event (the shop's deferred scripts have run by then)."""
        self.pump()
        loads = self.loads
        self.tools.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + WAIT_S
        while self.loads == loads:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            time.sleep(0.05)
            self.pump()

    def find(self, selector: str, timeout_s: float = WAIT_S) -> Node:
        deadline = time.monotonic() + timeout_s
        while True:
            root = _node(self.tools.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"])
            found = select(root, selector)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{selector} did not appear")
            self.pump()
            time.sleep(0.1)

    def box(self, node: Node) -> dict[str, float]:
        """``node``'s box on the screen (its content quad, scrolled into view first)."""
        self.tools.send("DOM.scrollIntoViewIfNeeded", {"backendNodeId": node.backend_id})
        quad = self.tools.send("DOM.getContentQuads", {"backendNodeId": node.backend_id})["quads"][0]
        xs, ys = quad[0::2], quad[1::2]
        x0, y0 = min(xs) + self.origin[0], min(ys) + self.origin[1]
        return {"x": x0, "y": y0, "width": max(xs) - min(xs), "height": max(ys) - min(ys)}

    # The pointer and keyboard.
    def glide_to(self, x: float, y: float) -> None:
        start, began = self.pointer.position, time.monotonic()
        for px, py, due in glide_path(start, (x, y), self.rng):
            time.sleep(max(0.0, due - (time.monotonic() - began)))
            self.pointer.move(px + self.rng.normal(0, 0.3), py + self.rng.normal(0, 0.3))
        self.pointer.move(x, y)

    def click(self, selector: str) -> None:
        box = self.box(self.find(selector))
        # A person aims at the control, not its exact centre.
        x = box["x"] + box["width"] * float(np.clip(self.rng.normal(0.5, 0.12), 0.2, 0.8))
        y = box["y"] + box["height"] * float(np.clip(self.rng.normal(0.5, 0.12), 0.25, 0.75))
        self.glide_to(x, y)
        time.sleep(self.rng.uniform(0.05, 0.15))
        self.pointer.button(True)
        time.sleep(self.rng.uniform(0.06, 0.12))
        self.pointer.button(False)

    def fill(self, selector: str, text: str) -> None:
        self.click(selector)
        self.pointer.type(text)


def at_polling_rate(arrays: TraceArrays, period_ms: float = POLL_MS) -> TraceArrays:
    """``arrays`` with moves added every ``period_ms`` between consecutive events (straight, evenly timed).

    A recording made in a browser holds what the browser delivered: one event per animation frame (60 Hz). The
    mouse that made it reported at 125 Hz or more, and Chromium coalesced those reports into each frame's event.
    Played back as recorded, a person's movement would reach the browser as one report per frame, which is what
    CDP-injected input looks like; played at the mouse's polling rate it reaches the browser as a mouse's does.
    The same applies to the OS-level bots: a scalper moving the pointer through the OS does so in small, frequent
    steps. Presses and releases stay where and when they were.
    """
    xs, ys, ts, codes = [arrays.x[0]], [arrays.y[0]], [arrays.t_ms[0]], [arrays.event[0]]
    for i in range(1, len(arrays.t_ms)):
        gap = float(arrays.t_ms[i] - arrays.t_ms[i - 1])
        extra = int(gap // period_ms) - (1 if gap % period_ms == 0 else 0)
        for k in range(1, extra + 1):
            f = k * period_ms / gap
            xs.append(arrays.x[i - 1] + f * (arrays.x[i] - arrays.x[i - 1]))
            ys.append(arrays.y[i - 1] + f * (arrays.y[i] - arrays.y[i - 1]))
            ts.append(arrays.t_ms[i - 1] + k * period_ms)
            codes.append(Event.MOVE)
        xs.append(arrays.x[i])
        ys.append(arrays.y[i])
        ts.append(arrays.t_ms[i])
        codes.append(arrays.event[i])
    return TraceArrays(
        np.asarray(xs, dtype=np.float64),
        np.asarray(ys, dtype=np.float64),
        np.asarray(ts, dtype=np.float64),
        np.asarray(codes, dtype=np.int8),
    )


def play_os(page: OsPage, box: dict[str, float], arrays: TraceArrays) -> None:
    """Glides to where ``arrays`` starts (a hand does not teleport), then plays it over the screen ``box`` at its
    recorded pace and at a mouse's polling rate (:func:`at_polling_rate`), every event as XTEST input.

    A trace that begins with moves (its approach to the first press, which the tear widget records and scores)
    is played after a rest longer than the SDK's 400 ms, so the glide is not taken for part of that approach."""
    pointer = page.pointer
    page.glide_to(box["x"] + float(arrays.x[0]) * box["width"], box["y"] + float(arrays.y[0]) * box["height"])
    approaches = int(arrays.event[0]) == Event.MOVE
    time.sleep(float(page.rng.uniform(0.5, 0.7) if approaches else page.rng.uniform(0.08, 0.2)))
    dense = at_polling_rate(arrays)
    start = time.monotonic()
    t0 = float(dense.t_ms[0])
    for x, y, t_ms, code in zip(dense.x, dense.y, dense.t_ms, dense.event, strict=True):
        wait = (float(t_ms) - t0) / 1000.0 - (time.monotonic() - start)
        if wait > 0:
            time.sleep(wait)
        pointer.move(box["x"] + float(x) * box["width"], box["y"] + float(y) * box["height"])
        event = Event(int(code))
        if event == Event.DOWN:
            pointer.button(True)
        elif event in (Event.UP, Event.CANCEL):
            pointer.button(False)


@dataclass
class OsMover:
    """Who moves the pointer through the OS: a held-out person's strokes or a humanised generator's paths."""

    tear_trace: Callable[[PerforationTask], TraceArrays]
    grid_trace: Callable[[GridTask, list[tuple[int, int]]], TraceArrays]


class OsSession:
    """One X display and its pointer, shared by the attempts of a run (each attempt gets a fresh browser)."""

    def __init__(self) -> None:
        why = available()
        if why:
            raise RuntimeError(f"the OS-input path cannot run: {why}")
        self.display = VirtualDisplay()
        try:
            self.pointer = XPointer(self.display)
        except Exception:
            self.display.stop()
            raise

    def close(self) -> None:
        try:
            self.pointer.close()
        finally:
            self.display.stop()

    def attempt(self, stack: Stack, phase_a: OsMover, phase_b: OsMover, rng: np.random.Generator) -> Outcome:
        browser = PlainChromium(self.display, "about:blank")
        try:
            return os_attempt(OsPage(browser, self.pointer, rng), stack, phase_a, phase_b)
        finally:
            browser.close()


@dataclass
class OsBooking:
    """An :class:`OsPage` as a :class:`redteam.browser.BookingPage`: every click, keystroke and drag is OS input."""

    page: OsPage
    stack: Stack
    phase_a: OsMover
    phase_b: OsMover

    def open_form(self) -> None:
        page = self.page
        page.navigate(f"{self.stack.url}/?lang=en")
        page.click("#get-tickets")
        page.find("#step-seats:not([hidden])")
        page.click("#seat-map button:not([disabled])")
        page.click("#to-booking")
        page.fill("#name", "Kim Minji")
        page.fill("#email", "minji@example.com")

    def start_check(self) -> None:
        self.page.click(".check")

    def issued(self, phase: str, k: int) -> dict[str, Any]:
        return dict(self.page.wait_exchange(phase, False, k).body or {})

    def answered(self, phase: str, k: int) -> str:
        return _outcome(self.page.wait_exchange(phase, True, k))

    def tear(self, task: PerforationTask) -> None:
        box = self.page.box(self.page.find('svg[data-phase="a"]'))
        play_os(self.page, box, self.phase_a.tear_trace(task))

    def solve(self, grid: GridTask, moves: list[tuple[int, int]]) -> None:
        self.page.find('[data-phase="b"] .tile')
        play_os(
            self.page, self.page.box(self.page.find('[data-phase="b"]')), self.phase_b.grid_trace(grid, moves)
        )
        self.page.click('[data-action="confirm"]')

    def book(self) -> bool:
        self.page.find('.widget[data-state="verified"]')
        self.page.click("#book")
        return self.page.find("#result[data-ok]").attributes.get("data-ok") == "true"

    def sent(self) -> list[dict[str, Any]]:
        self.page.pump()
        return [
            {"phase": e.phase, "trace": e.sent["trace"], "outcome": _outcome(e)}
            for e in self.page.exchanges
            if e.sent
        ]


def os_attempt(page: OsPage, stack: Stack, phase_a: OsMover, phase_b: OsMover) -> Outcome:
    """One booking attempt with OS input only (:func:`redteam.browser.run_booking`)."""
    return run_booking(OsBooking(page, stack, phase_a, phase_b), stack, Outcome())


def _outcome(exchange: Exchange) -> str:
    body = exchange.body or {}
    return str(body.get("outcome") or body.get("error", {}).get("code", "error"))
