"""``python -m redteam`` (``make redteam``): every attacker, and held-out people, against the whole system.

Starts the system on free loopback ports on the registry's ``@champion`` models (:func:`redteam.stack.start_real_stack`),
runs each attacker for ``--attempts`` booking attempts in fresh browser contexts, then writes
``reports/redteam/summary.json`` (the last one kept as ``previous.json``) and ``report.md``. Bounded: each
attempt has its own time limits, and past ``--max-minutes`` the remaining attackers stop early (``truncated``).
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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from redteam import osinput, report, stealth
from redteam.browser import CHROMIUM, CHROMIUM_ARGS, Mover, Outcome, PlaywrightMover, TimedMover, attempt
from redteam.http_bots import RELAY_VARIANTS, Api, relay_attempts, replay_attempts
from redteam.humans import HeldOutPeople
from redteam.osinput import OsMover, OsSession, VirtualDisplay
from redteam.selenium_bot import SeleniumBot
from redteam.stack import Stack, start_real_stack
from tcurity.config import PROJECT_ROOT, Params, params, resolve
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import phase_a_trace, phase_b_trace
from tcurity.simulate.fitted import BotModel, load_bot_models

logger = logging.getLogger("redteam")

GHOST = PROJECT_ROOT / "redteam/ghost"
PASS_TOKEN_TTL_S = 10  # the stack's pass tokens live this long, so the relay's expired token is quick to test
HUMANISED_PATH = "bezier_eased"  # the Playwright script's humanised path generator (a Bézier with easing)
# The humanised generators a scalper sends through the OS (pyautogui-style, XTEST) once CDP input is caught.
OS_FAMILIES = (
    "bezier_eased",
    "windmouse",
    "ghost_cursor",
    "minimum_jerk",
    "replay",
    "learned_pca",
    "sigma_lognormal",
)
GHOST_SPREAD_PX = 4  # a ghost-cursor spread that keeps its tear on the perforation (what an attacker tunes)
MIN_FREE_SEATS = 30  # the demo shop is restarted (every seat back on sale) when fewer are left


@dataclass
class Config:
    attempts: int = 10
    human_attempts: int = 20
    families: tuple[str, ...] = tuple(FAMILIES)
    only: tuple[str, ...] = ()  # attacker names to run (all when empty)
    max_minutes: float = 45.0
    seed: int = 0
    out_dir: Path = PROJECT_ROOT / "reports/redteam"
    humans: HeldOutPeople | None = None
    replay_sources: HeldOutPeople | None = None
    # The fitted families' models (stage fit_bot_models); read from params.yaml's fit_bot_models.out_dir when None.
    bot_models: dict[str, BotModel] | None = None
    token_ttl_s: float = PASS_TOKEN_TTL_S
    relay_variants: tuple[str, ...] = RELAY_VARIANTS
    traces_dir: Path | None = None  # where each attacker's sent answers go (JSON lines), when set
    started: float = field(default_factory=time.monotonic)

    os_input: bool = True  # the OS-input attackers and people (Xvfb, headed Chromium, XTEST)

    def wanted(self, name: str) -> bool:
        return not self.only or any(name == o or name.startswith(o) for o in self.only)

    def time_left(self) -> bool:
        return time.monotonic() - self.started < self.max_minutes * 60.0


def _human_mover(people: HeldOutPeople) -> TimedMover:
    return TimedMover(people.tear, people.grid)


def _family_mover(
    family: str,
    rng: np.random.Generator,
    sources: HeldOutPeople,
    via: str = "cdp",
    models: dict[str, BotModel] | None = None,
) -> TimedMover:
    """A solver bot moving with one simulator family (a ``replay`` family re-uses attacker users' strokes, a
    fitted family draws from its model in ``models``)."""
    needs_source = FAMILIES[family].needs_source
    model = (models or {}).get(family)

    def tear(task: Any) -> Any:
        source = sources.take_path() if needs_source else None
        return phase_a_trace(task, family, rng, source=source, model=model)

    def grid(task: Any, moves: list[tuple[int, int]]) -> Any:
        paths = [sources.take_path() for _ in range(2 * len(moves))] if needs_source else None
        return phase_b_trace(task, moves, family, rng, sources=paths, model=model)

    return TimedMover(tear, grid, via=via)


def _os_family_mover(
    family: str, rng: np.random.Generator, sources: HeldOutPeople, models: dict[str, BotModel] | None
) -> OsMover:
    mover = _family_mover(family, rng, sources, models=models)
    return OsMover(mover.tear_trace, mover.grid_trace)


def browser_attackers(cfg: Config, rng: np.random.Generator) -> dict[str, tuple[str, Mover]]:
    assert cfg.replay_sources is not None
    attackers: dict[str, tuple[str, Mover]] = {
        "playwright_default": ("Playwright page.mouse.move without steps (one jump)", PlaywrightMover(1)),
        "playwright_steps": (
            "Playwright page.mouse.move with steps=25 (a straight line)",
            PlaywrightMover(25),
        ),
        "playwright_humanised": (
            f"Playwright page.mouse along a humanised path generator ({HUMANISED_PATH}), at its own pace",
            _family_mover(HUMANISED_PATH, rng, cfg.replay_sources, via="playwright"),
        ),
    }
    for family in cfg.families:
        attackers[f"solver_{family}"] = (
            f"solver bot: right answer, {family} movement dispatched through CDP with its own timing",
            _family_mover(family, rng, cfg.replay_sources, models=cfg.bot_models),
        )
    return {name: a for name, a in attackers.items() if cfg.wanted(name)}


def _run_attempts(n: int, cfg: Config, one: Callable[[], Outcome]) -> tuple[list[Outcome], bool]:
    outcomes: list[Outcome] = []
    for _ in range(n):
        if not cfg.time_left():
            return outcomes, True
        outcomes.append(one())
    return outcomes, False


def _in_page(
    browser: Any,
    stack: Stack,
    phase_a: Mover,
    phase_b: Mover,
    probe: bool = False,
    prepare: Callable[[Any], None] | None = None,
) -> Outcome:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    if prepare is not None:
        prepare(context)
    context.set_default_timeout(30_000)
    try:
        return attempt(context.new_page(), stack, phase_a, phase_b, probe)
    finally:
        context.close()


def _attacker_inputs(cfg: Config, p: Params) -> None:
    """Fills what the simulator attackers draw from, where the caller gave none: the attacker users' strokes
    (replay) and, when an attacker that needs them is wanted, the fitted families' models (``fit_bot_models``)."""
    cfg.replay_sources = cfg.replay_sources or HeldOutPeople(
        p, list(p.sapimouse_split.attacker_users), seed=cfg.seed + 1
    )
    if cfg.bot_models is not None:
        return
    fitted = [f for f, fam in FAMILIES.items() if fam.fitted]
    wanted = [f for f in fitted if cfg.wanted(f"solver_{f}") and f in cfg.families] + [
        f for f in fitted if cfg.os_input and cfg.wanted(f"os_{f}") and f in OS_FAMILIES
    ]
    if wanted:
        cfg.bot_models = load_bot_models(resolve(p.fit_bot_models.out_dir))


def run(stack: Stack, cfg: Config, browser: Any = None) -> dict[str, Any]:
    """Runs the attackers and the people against ``stack``; returns the summary (not written). ``browser``: a
    Playwright Chromium to use (one is launched when ``None``)."""
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(cfg.seed)
    why_not_os = osinput.available() if cfg.os_input else None
    if why_not_os:
        logger.warning("no OS-input path (%s): people come through CDP", why_not_os)
        cfg.os_input = False
    p = params()
    people = cfg.humans or HeldOutPeople(p, list(p.sapimouse_split.test_users), seed=cfg.seed)
    _attacker_inputs(cfg, p)
    human = _human_mover(people)
    rows: dict[str, dict[str, Any]] = {}
    began = datetime.now(UTC)

    def measured(name: str, what: str, kind: str, go: Callable[[], tuple[list[Outcome], bool]]) -> None:
        restock(stack)
        before = report.counters(stack)
        started = time.monotonic()
        failed = None
        try:
            outcomes, truncated = go()
        except Exception as exc:
            logger.exception("%s could not run", name)
            outcomes, truncated, failed = [], False, f"{type(exc).__name__}: {exc}"[:500]
        reasons = report.counters(stack) - before
        if cfg.traces_dir is not None:
            report.write_traces(cfg.traces_dir / f"{name}.jsonl", outcomes)
        extra = {
            "tool": what,
            "kind": kind,
            "truncated": truncated,
            "seconds": round(time.monotonic() - started, 1),
        }
        if failed:
            extra["failed"] = failed
        rows[name] = report.summarise(outcomes, reasons, extra)
        logger.info(
            "%s: %s", name, json.dumps({k: rows[name][k] for k in ("attempts", "full_pass_rate", "bookings")})
        )

    if browser is None:
        with sync_playwright() as playwright:
            args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
            try:
                _browser_attackers(stack, cfg, launched, human, rng, measured)
            finally:
                launched.close()
    else:
        _browser_attackers(stack, cfg, browser, human, rng, measured)
    _tool_attackers(stack, cfg, people, rng, measured)
    if cfg.os_input:
        _os_attackers(stack, cfg, people, rng, measured)
        _stealth_attackers(stack, cfg, human, rng, measured)
    humans_row = rows.pop("humans", None) or report.summarise([], report.Counter())
    humans_cdp = rows.pop("humans_cdp", None)
    summary: dict[str, Any] = {
        "attackers": rows,
        "humans": humans_row,
        **({"humans_cdp": humans_cdp} if humans_cdp else {}),
        "models": report.models(stack),
        "run": {
            "started": began.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round((datetime.now(UTC) - began).total_seconds(), 1),
            "target": "loopback stack (AI server, backend, demo shop, nginx) with the answer oracle",
            "attempts_per_attacker": cfg.attempts,
            "human_users": people.users,
            "seed": cfg.seed,
        },
    }
    summary["targets"] = report.targets(summary)
    return summary


Measure = Callable[[str, str, str, Callable[[], tuple[list[Outcome], bool]]], None]


def _browser_attackers(
    stack: Stack, cfg: Config, browser: Any, human: Mover, rng: np.random.Generator, measured: Measure
) -> None:
    """The Playwright-driven attackers and the held-out people, each attempt in a fresh browser context."""
    for name, (what, mover) in browser_attackers(cfg, rng).items():

        def go(mover: Mover = mover) -> tuple[list[Outcome], bool]:
            outcomes, truncated = _run_attempts(
                cfg.attempts, cfg, lambda: _in_page(browser, stack, mover, mover)
            )
            probes = max(0, math.ceil(len(outcomes) / 2) - sum(o.phase_a for o in outcomes))
            more, cut = _run_attempts(probes, cfg, lambda: _in_page(browser, stack, human, mover, probe=True))
            return outcomes + more, truncated or cut

        measured(name, what, "browser", go)
    measured(
        "humans" if not cfg.os_input else "humans_cdp",
        "held-out people: recorded strokes replayed through CDP with their timings",
        "browser",
        lambda: _run_attempts(cfg.human_attempts, cfg, lambda: _in_page(browser, stack, human, human)),
    )


def _os_attackers(
    stack: Stack, cfg: Config, people: HeldOutPeople, rng: np.random.Generator, measured: Measure
) -> None:
    """Real OS input (:mod:`redteam.osinput`): the held-out people, and the humanised generators a scalper drives
    through XTEST once CDP is caught, each attempt in a fresh plain Chromium on one virtual display."""
    assert cfg.replay_sources is not None
    session = OsSession()
    try:
        person = OsMover(people.tear, people.grid)
        for family in OS_FAMILIES:
            name = f"os_{family}"
            if not cfg.wanted(name):
                continue
            mover = _os_family_mover(family, rng, cfg.replay_sources, cfg.bot_models)

            def go(mover: OsMover = mover) -> tuple[list[Outcome], bool]:
                outcomes, truncated = _run_attempts(
                    cfg.attempts, cfg, lambda: session.attempt(stack, mover, mover, rng)
                )
                probes = max(0, math.ceil(len(outcomes) / 2) - sum(o.phase_a for o in outcomes))
                more, cut = _run_attempts(
                    probes, cfg, lambda: _probe(session.attempt(stack, person, mover, rng))
                )
                return outcomes + more, truncated or cut

            measured(
                name,
                f"OS-level bot: {family} movement sent through XTEST to a plain headed Chromium",
                "os",
                go,
            )
        measured(
            "humans",
            "held-out people: recorded strokes played through XTEST to a plain headed Chromium, at their timings",
            "os",
            lambda: _run_attempts(
                cfg.human_attempts, cfg, lambda: session.attempt(stack, person, person, rng)
            ),
        )
    finally:
        session.close()


def _stealth_attackers(
    stack: Stack, cfg: Config, human: Mover, rng: np.random.Generator, measured: Measure
) -> None:
    """The stealth CDP drivers (:mod:`redteam.stealth`), headed on a virtual display, each moving along the
    humanised path generator as ``playwright_humanised`` does; puppeteer-extra's stealth plugin with ghost-cursor."""
    assert cfg.replay_sources is not None
    display = VirtualDisplay()
    try:
        for name, driver in stealth.DRIVERS.items():
            if not cfg.wanted(name):
                continue
            installed = stealth.version(driver.package)
            what = f"{driver.package} {installed}, headed, {HUMANISED_PATH} path; hides {driver.hides}"
            mover = _family_mover(HUMANISED_PATH, rng, cfg.replay_sources, via="playwright")

            def drive(driver: stealth.Driver = driver, mover: Mover = mover) -> tuple[list[Outcome], bool]:
                if stealth.version(driver.package) is None:
                    raise RuntimeError(f"{driver.package} is not installed (make redteam installs it)")
                prepare = stealth.prepare_context(driver)
                with stealth.launched(driver, display.name) as browser:

                    def one(a: Mover = mover, probe: bool = False) -> Outcome:
                        return _in_page(browser, stack, a, mover, probe, prepare)

                    outcomes, truncated = _run_attempts(cfg.attempts, cfg, one)
                    probes = max(0, math.ceil(len(outcomes) / 2) - sum(o.phase_a for o in outcomes))
                    more, cut = _run_attempts(probes, cfg, lambda: one(human, True))
                return outcomes + more, truncated or cut

            def go(drive: Callable[[], tuple[list[Outcome], bool]] = drive) -> tuple[list[Outcome], bool]:
                # A thread of its own: each driver's sync API runs its own event loop, which cannot share a thread
                # with another Playwright's (the caller's browser may still be open).
                with ThreadPoolExecutor(max_workers=1) as worker:
                    return worker.submit(drive).result()

            measured(name, what, "stealth", go)
        if cfg.wanted("puppeteer_extra_stealth"):
            what = (
                "puppeteer-extra with puppeteer-extra-plugin-stealth (every evasion), headed, ghost-cursor moves "
                f"with a tear spread of {GHOST_SPREAD_PX} px"
            )
            measured(
                "puppeteer_extra_stealth",
                what,
                "stealth",
                lambda: ghost_cursor(stack, cfg, GHOST_SPREAD_PX, stealth_on=display.name),
            )
    finally:
        display.stop()


def _probe(outcome: Outcome) -> Outcome:
    outcome.probe = True
    return outcome


def _tool_attackers(
    stack: Stack, cfg: Config, people: HeldOutPeople, rng: np.random.Generator, measured: Measure
) -> None:
    """The attackers that bring their own tools: Selenium, puppeteer with ghost-cursor, replay and relay."""
    if cfg.wanted("selenium_actionchains"):
        bot = SeleniumBot(stack, CHROMIUM, CHROMIUM_ARGS)
        try:
            measured(
                "selenium_actionchains",
                "Selenium with Debian's chromedriver: ActionChains drags of the handle onto the end mark",
                "browser",
                lambda: _run_attempts(cfg.attempts, cfg, bot.attempt),
            )
        finally:
            bot.close()
    ghosts: tuple[tuple[str, int | None], ...] = (
        ("puppeteer_ghost_cursor", None),
        ("puppeteer_ghost_cursor_tuned", GHOST_SPREAD_PX),
    )
    for name, spread in ghosts:
        if cfg.wanted(name):

            def go(spread: int | None = spread) -> tuple[list[Outcome], bool]:
                return ghost_cursor(stack, cfg, spread)

            tuned = (
                f", tear spread {spread} px (tuned to stay on the line)" if spread else ", its default paths"
            )
            what = (
                f"puppeteer-core driven by ghost-cursor (npm), the most used humanised cursor library{tuned}"
            )
            measured(name, what, "browser", go)
    api = Api(stack)
    replays: tuple[tuple[str, tuple[str, ...], str], ...] = (
        ("replay", ("exact", "retargeted"), "exactly, and re-targeted onto the new task and time-warped"),
        ("replay_junk_press", ("junk_press",), "re-targeted and time-warped, with a throwaway second press"),
        (
            "replay_noisy",
            ("noisy",),
            "re-targeted and time-warped, with 0.5, 2 or 4 px of noise on every point",
        ),
    )
    for name, variants, how in replays:
        if cfg.wanted(name):

            def go_replay(variants: tuple[str, ...] = variants) -> tuple[list[Outcome], bool]:
                return replay_attempts(api, people, cfg.attempts, rng, variants), False

            measured(name, f"re-sends a held-out person's accepted traces: {how}", "http", go_replay)
    n_relay = len(cfg.relay_variants) * max(1, math.ceil(cfg.attempts / len(cfg.relay_variants)))
    if cfg.wanted("relay"):
        measured(
            "relay",
            "a legitimately earned token used at another site, for another action, a second time, and expired",
            "http",
            lambda: (relay_attempts(api, people, n_relay, cfg.token_ttl_s, cfg.relay_variants), False),
        )


def restock(stack: Stack) -> None:
    """Restarts the demo shop when few seats are left, so bookings never fail for want of a seat."""
    seats = httpx.get(f"{stack.url}/shop/api/show", timeout=10.0).json()["seats"]
    if sum(not s["sold"] for s in seats) < MIN_FREE_SEATS:
        logger.info("restarting the demo shop: few seats left")
        stack.restart("demo")


def ghost_cursor(
    stack: Stack, cfg: Config, spread: int | None, stealth_on: str | None = None
) -> tuple[list[Outcome], bool]:
    """Runs the Node attacker (``redteam/ghost/ghost.mjs``) and reads its JSON lines. ``spread``: ghost-cursor's
    ``spreadOverride`` for the tear (``None``: its default, whose paths bow too far for the widget's own check).
    ``stealth_on``: an X display, to launch through puppeteer-extra's stealth plugin, headed on that display."""
    if shutil.which("node") is None or not (GHOST / "node_modules").exists():
        raise RuntimeError("the ghost-cursor attacker needs node and `npm ci` in redteam/ghost (make setup)")
    cmd = ["node", str(GHOST / "ghost.mjs"), "--url", stack.url, "--oracle", stack.ai_url]
    cmd += ["--attempts", str(cfg.attempts), "--seed", str(cfg.seed)]
    if spread is not None:
        cmd += ["--spread", str(spread)]
    env = dict(os.environ)
    if stealth_on is not None:
        cmd.append("--stealth")
        env["DISPLAY"] = stealth_on
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120 + 90 * cfg.attempts, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"ghost-cursor attacker failed ({done.returncode}): {done.stderr[-2000:]}")
    outcomes = []
    for line in done.stdout.splitlines():
        row = json.loads(line)
        outcomes.append(
            Outcome(phase_a=row["phase_a"], phase_b=row["phase_b"], booked=row["booked"], error=row["error"])
        )
    return outcomes, False


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m redteam", description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=10, help="booking attempts per attacker (default 10)")
    parser.add_argument(
        "--human-attempts", type=int, default=20, help="held-out people's attempts (default 20)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="attacker names (or prefixes) to run")
    parser.add_argument("--max-minutes", type=float, default=45.0, help="stop starting attempts after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-os-input",
        action="store_true",
        help="leave out the OS-input path (people then come through CDP)",
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports/redteam")
    parser.add_argument("--traces", action="store_true", help="keep every answer sent (OUT/traces/*.jsonl)")
    parser.add_argument(
        "--merge", action="store_true", help="re-run --only's attackers into the last summary (same models)"
    )
    a = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cfg = Config(
        a.attempts,
        a.human_attempts,
        only=tuple(a.only),
        max_minutes=a.max_minutes,
        seed=a.seed,
        out_dir=a.out,
        traces_dir=a.out / "traces" if a.traces else None,
        os_input=not a.no_os_input,
    )
    with tempfile.TemporaryDirectory(prefix="tcurity-redteam-") as folder:
        stack = start_real_stack(Path(folder), backend_env={"PASS_TOKEN_TTL_S": str(PASS_TOKEN_TTL_S)})
        try:
            summary = run(stack, cfg)
        finally:
            stack.stop()
    if a.merge:
        summary = report.merge(summary, json.loads((cfg.out_dir / "summary.json").read_text()))
    path = report.write(summary, cfg.out_dir, rotate=not a.merge)
    logger.info("wrote %s and %s", path, path.with_name("report.md"))


if __name__ == "__main__":
    main()
