"""Records what Chromium's pointer events and environment look like on each input path (docs/integrity.md).

A small page logs every pointer event raw (client and screen positions, ``movementX/Y``, pressure and contact
size, coalesced sub-events, the next animation frame's time) and an environment report, records the same press
with the SDK's own recorder (``web/sdk/src/capture.ts`` and ``integrity.ts``, bundled by esbuild), and posts both
back to a loopback server: the SDK's trace is what the fixtures hold. As the tear widget does
(``web/sdk/src/phase-a.ts``), the page records the hovering pointer's way to the press too (moves anywhere on the
page since the last rest of 400 ms), and every driver approaches the start of the tear in steps before pressing. Input comes one of three ways:

- ``cdp-headless``: Playwright, headless, ``page.mouse`` (DevTools ``Input.dispatchMouseEvent``);
- ``cdp-headed``: the same, but a headed Chromium on an Xvfb display (so headless traits are apart from CDP's);
- ``os-xdotool``: a headed Chromium started as a plain process (no driver, no ``--enable-automation``, no
  DevTools port) on Xvfb, the pointer moved through the X server's XTEST extension by ``xdotool`` at a mouse's
  125 Hz polling rate, as a person's hand reaches the browser.

Usage: ``python -m redteam.integrity_probe OUT_DIR [--fixtures DIR]`` (needs ``Xvfb`` and ``xdotool``, Debian
packages, and the SDK's node_modules for esbuild).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from redteam.browser import CHROMIUM, CHROMIUM_ARGS
from tcurity.traces import Trace

log = logging.getLogger(__name__)

SDK_DIR = Path(__file__).resolve().parents[1] / "web/sdk"
AREA = (120, 100, 600, 300)  # the task area on the page: left, top, width, height (CSS px)
POLL_S = 0.008  # a USB mouse's polling interval (125 Hz)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0} #a{position:absolute;left:AREA_LEFTpx;top:AREA_TOPpx;width:AREA_Wpx;height:AREA_Hpx;background:#eee;touch-action:none}
</style></head><body><div id="a"></div><script>SDK_BUNDLE</script><script>
const log = {events: [], env: {}, frames: 0};
let pending = [], lastFrame = 0;
function frame(ts) { log.frames++; lastFrame = ts; for (const e of pending) e.frame = ts; pending = []; requestAnimationFrame(frame); }
requestAnimationFrame(frame);
function rec(e) {
  const co = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  const r = {type: e.type, trusted: e.isTrusted, pt: e.pointerType, t: e.timeStamp, now: performance.now(),
    cx: e.clientX, cy: e.clientY, sx: e.screenX, sy: e.screenY, mx: e.movementX, my: e.movementY,
    lf: lastFrame, p: e.pressure, w: e.width, h: e.height, tx: e.tiltX, ty: e.tiltY,
    co: co.map(k => [k.clientX, k.clientY, k.timeStamp, k.screenX - k.clientX, k.screenY - k.clientY])};
  log.events.push(r); pending.push(r);
  if (e.type === "pointerup") setTimeout(send, 300);
}
for (const k of ["pointerdown", "pointermove", "pointerup"]) document.getElementById("a").addEventListener(k, rec);
function env() {
  let touched = false;
  const err = new Error("probe");
  Object.defineProperty(err, "stack", {get() { touched = true; return ""; }});
  console.debug(err);
  const uad = navigator.userAgentData;
  return {webdriver: navigator.webdriver, ua: navigator.userAgent,
    brands: uad ? uad.brands.map(b => b.brand) : null, mobile: uad ? uad.mobile : null,
    outer: [outerWidth, outerHeight], inner: [innerWidth, innerHeight], screen: [screen.width, screen.height],
    screen_pos: [screenX, screenY], plugins: navigator.plugins.length, languages: navigator.languages,
    chrome: typeof window.chrome, chrome_keys: window.chrome ? Object.keys(window.chrome) : [],
    runtime_probe: touched, hw: navigator.hardwareConcurrency, touch_points: navigator.maxTouchPoints,
    globals: Object.getOwnPropertyNames(window).filter(n => /playwright|puppeteer|cdc_|webdriver|selenium|__pw/i.test(n)),
    notification: typeof Notification === "undefined" ? null : Notification.permission};
}
const TASK = {kind: "perforation", area_px: [AREA_W, AREA_H], start: {x: 0.1, y: 0.5}, end: {x: 0.9, y: 0.5},
  bend: 0, band: 0.1};
const area = document.getElementById("a");
const clock = new tcCapture.FrameClock(window, () => area.isConnected);
clock.start();
const recorder = new tcCapture.TraceRecorder(() => area.getBoundingClientRect(), 8000,
  () => clock.since(performance.now()));
let lastHover = -Infinity;
window.addEventListener("pointermove", (e) => {
  if (recorder.pressed) return;
  if (e.timeStamp - lastHover > 400) recorder.clear();
  lastHover = e.timeStamp;
  recorder.move(e);
});
area.addEventListener("pointerdown", (e) => recorder.down(e));
area.addEventListener("pointermove", (e) => { if (recorder.pressed) recorder.move(e); });
area.addEventListener("pointerup", (e) => recorder.end(e, "up"));
function send() {
  log.sdk_trace = recorder.trace(TASK, tcCapture.currentViewport(window), tcCapture.environmentReport(navigator));
  log.env = env();
  fetch("/log", {method: "POST", body: JSON.stringify(log)});
}
window.addEventListener("load", () => fetch("/ready", {method: "POST", body: JSON.stringify(
  {screen_pos: [screenX, screenY], chrome_px: [outerWidth - innerWidth, outerHeight - innerHeight]})}));
</script></body></html>"""
for _key, _value in zip(("AREA_LEFT", "AREA_TOP", "AREA_W", "AREA_H"), AREA, strict=True):
    PAGE = PAGE.replace(_key, str(_value))


def sdk_bundle() -> str:
    """The SDK's recorder and integrity helpers as one script (``tcCapture``), bundled by the SDK's esbuild."""
    entry = 'export { TraceRecorder, currentViewport } from "./src/capture";\n'
    entry += 'export { FrameClock, environmentReport } from "./src/integrity";\n'
    esbuild = SDK_DIR / "node_modules/.bin/esbuild"
    args = [str(esbuild), "--bundle", "--format=iife", "--global-name=tcCapture", "--target=es2020"]
    done = subprocess.run(
        [*args, "--sourcefile=probe.ts", "--loader=ts"],
        input=entry,
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


class _Probe:
    """The loopback server: serves the page (with the SDK's recorder in it), keeps what it posts."""

    def __init__(self) -> None:
        page = PAGE.replace("SDK_BUNDLE", sdk_bundle())
        self.posted: dict[str, Any] = {}
        self.event = threading.Event()
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                probe.posted[self.path.strip("/")] = json.loads(self.rfile.read(size))
                self.send_response(204)
                self.end_headers()
                probe.event.set()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def wait(self, key: str, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while key not in self.posted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never posted {key!r}")
            self.event.wait(0.1)
            self.event.clear()
        return dict(self.posted.pop(key))


def stroke(n: int, wobble: float) -> list[tuple[float, float]]:
    """A minimum-jerk tear across the area (task units), bowed by ``wobble``; ``n`` + 1 positions."""
    points = []
    for i in range(n + 1):
        u = i / n
        s = 10 * u**3 - 15 * u**4 + 6 * u**5
        points.append((0.1 + 0.8 * s, 0.5 + wobble * math.sin(math.pi * s)))
    return points


APPROACH_FROM = (-0.1, 0.9)  # where the pointer rests before it approaches the tear's start (task units)
APPROACH_STEPS = 25


def approach(n: int) -> list[tuple[float, float]]:
    """A minimum-jerk approach from :data:`APPROACH_FROM` to the tear's start (task units); ``n`` positions, the
    last one short of the start (the tear's first position is the press)."""
    (x0, y0), (x1, y1) = APPROACH_FROM, stroke(1, 0.0)[0]
    points = []
    for i in range(n):
        u = i / n
        s = 10 * u**3 - 15 * u**4 + 6 * u**5
        points.append((x0 + (x1 - x0) * s, y0 + (y1 - y0) * s))
    return points


def _page_px(x: float, y: float) -> tuple[float, float]:
    return AREA[0] + x * AREA[2], AREA[1] + y * AREA[3]


def record_cdp(headless: bool, steps: int, display: str | None) -> dict[str, Any]:
    """Playwright drives the tear: ``page.mouse`` moves in ``steps`` steps, as scripted bots do."""
    from playwright.sync_api import sync_playwright

    probe = _Probe()
    args = [a for a in CHROMIUM_ARGS if a != "--headless"]
    env: dict[str, str | float | bool] | None = dict(os.environ, DISPLAY=display) if display else None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=headless, args=args, env=env)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(probe.url)
        probe.wait("ready")
        path = stroke(steps, 0.05)
        page.mouse.move(*_page_px(*APPROACH_FROM))
        page.mouse.move(*_page_px(*path[0]), steps=APPROACH_STEPS)
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(*_page_px(x, y))
            time.sleep(POLL_S)
        page.mouse.up()
        result = probe.wait("log")
        browser.close()
    probe.server.shutdown()
    return result


def record_os(display: str, steps: int) -> dict[str, Any]:
    """A plain headed Chromium, the pointer moved through XTEST at 125 Hz (``xdotool``)."""
    probe = _Probe()
    profile = tempfile.mkdtemp(prefix="probe-profile-")
    args = [a for a in CHROMIUM_ARGS if a != "--headless"]
    cmd = [CHROMIUM, *args, f"--user-data-dir={profile}", "--window-position=40,30", "--window-size=1000,760"]
    if os.geteuid() == 0:
        cmd.append("--no-sandbox")  # Chromium refuses root without it (Playwright adds the same)
    chrome = subprocess.Popen(
        [*cmd, f"--app={probe.url}"],
        env=dict(os.environ, DISPLAY=display),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = probe.wait("ready", 40.0)
        time.sleep(1.0)
        ox = ready["screen_pos"][0] + ready["chrome_px"][0]
        oy = ready["screen_pos"][1] + ready["chrome_px"][1]
        script: list[str] = []
        path = approach(APPROACH_STEPS) + stroke(steps, 0.05)
        for i, (x, y) in enumerate(path):
            px, py = _page_px(x, y)
            script += ["mousemove", str(round(ox + px)), str(round(oy + py)), "sleep", f"{POLL_S}"]
            if i == APPROACH_STEPS:
                script += ["mousedown", "1", "sleep", "0.05"]
        script += ["mouseup", "1"]
        subprocess.run(["xdotool", *script], env=dict(os.environ, DISPLAY=display), check=True, timeout=60)
        result = probe.wait("log")
        result["ready"] = ready
        return result
    finally:
        chrome.terminate()
        chrome.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
        probe.server.shutdown()


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An X server with XTEST (Xvfb has it on by default) on a free display; returns it and its ``:N`` name."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as announced:
        number = announced.readline().strip()
    if not number:
        server.kill()
        raise RuntimeError("Xvfb did not start")
    return server, f":{number}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--modes", default="cdp-headless,cdp-headed,os-xdotool")
    parser.add_argument(
        "--fixtures", type=Path, default=None, help="also write each trace here (schema form)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    xvfb, display = start_xvfb()
    try:
        for mode in args.modes.split(","):
            if mode == "os-xdotool":
                result = record_os(display, args.steps)
            else:
                result = record_cdp(mode == "cdp-headless", args.steps, display)
            (args.out_dir / f"{mode}.json").write_text(json.dumps(result))
            if args.fixtures is not None:
                trace = Trace.model_validate(result["sdk_trace"]).model_dump(mode="json", exclude_none=True)
                args.fixtures.mkdir(parents=True, exist_ok=True)
                name = mode.replace("-", "_")
                (args.fixtures / f"{name}.json").write_text(json.dumps(trace, separators=(",", ":")) + "\n")
            log.info("%s: %d events", mode, len(result["events"]))
    finally:
        xvfb.terminate()
        xvfb.wait(10)


if __name__ == "__main__":
    main()
