"""The input-integrity rules of :mod:`tcurity.integrity`, on event streams recorded on this machine's Chromium.

``tests/fixtures/integrity/`` holds one tear per input path, recorded by ``python -m redteam.integrity_probe``:
``cdp_headless`` and ``cdp_headed`` (Playwright's ``page.mouse``, DevTools input), ``os_xdotool`` (a plain headed
Chromium on Xvfb, the pointer moved through XTEST at 125 Hz). Variants (touch, an old browser, the keyboard path,
a Phase B answer) are derived from them by hand so each rule's edge is visible.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tcurity.config import params
from tcurity.geometry import grid_layout
from tcurity.integrity import (
    assess,
    automation_env,
    coalesced_single,
    exact_centres,
    fractional_steps,
    pressed_mouse_moves,
    slow_moves,
    sparse_moves,
)
from tcurity.traces import EnvReport, Trace

FIXTURES = Path(__file__).parent / "fixtures/integrity"
P = params().integrity


def fixture(name: str) -> Trace:
    return Trace.model_validate_json((FIXTURES / f"{name}.json").read_text())


def with_points(trace: Trace, **fields: Any) -> Trace:
    body = trace.model_dump(exclude_none=True)
    body["points"] |= fields
    body["points"] = {k: v for k, v in body["points"].items() if v is not None}
    return Trace.model_validate(body)


def with_env(trace: Trace, env: EnvReport | None) -> Trace:
    return trace.model_copy(update={"env": env})


def from_event(trace: Trace, first: int) -> Trace:
    """The trace without its first ``first`` events (and their coalesced sub-events)."""
    body = trace.model_dump(exclude_none=True)
    points = body["points"]
    for name, column in points.items():
        if name != "sub" and isinstance(column, list):
            points[name] = column[first:]
    if "sub" in points:
        sub = points["sub"]
        keep = [i for i, index in enumerate(sub["index"]) if index >= first]
        points["sub"] = {k: [sub[k][i] for i in keep] for k in ("x", "y", "t_ms")} | {
            "index": [sub["index"][i] - first for i in keep]
        }
    return Trace.model_validate(body)


def press_only(name: str) -> Trace:
    """A fixture's tear without its approach to the grip: the press alone, event 0 its ``down``."""
    trace = fixture(name)
    return from_event(trace, trace.points.event.index("down"))


# --- each path as recorded ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cdp_headless", "cdp_headed"])
def test_playwright_input_is_injected_and_its_environment_automated(name: str) -> None:
    result = assess(fixture(name))
    assert result.reasons == ["injected_input", "automation_env"]
    assert result.tells == ["coalesced_single", "fractional_steps", "automation_env"]
    assert result.version == P.version


def test_os_input_through_xtest_is_clean() -> None:
    result = assess(fixture("os_xdotool"))
    assert result.reasons == []
    assert result.tells == []
    assert result.evaluated == [
        "coalesced_single",
        "fractional_steps",
        "sparse_moves",
        "slow_moves",
        "no_approach",
        "automation_env",
    ]


def test_the_recorded_paths_differ_where_the_rules_look() -> None:
    cdp, os_input = fixture("cdp_headed"), fixture("os_xdotool")
    assert max(cdp.points.coalesced or []) == 1
    assert max(os_input.points.coalesced or []) >= 2
    assert cdp.env == EnvReport(webdriver=True, headless=False, brands=["Not:A-Brand", "Chromium"])
    assert os_input.env == EnvReport(webdriver=False, headless=False, brands=["Not:A-Brand", "Chromium"])
    headless = fixture("cdp_headless").env
    assert headless is not None and headless.headless is True


# --- one rule at a time -----------------------------------------------------------------------------------------


def test_coalesced_single_needs_the_api_and_enough_moves() -> None:
    cdp = fixture("cdp_headed")
    moves = pressed_mouse_moves(cdp)
    assert moves is not None and moves.size == 60
    assert coalesced_single(cdp, moves, P) is True
    assert coalesced_single(cdp, moves[: P.min_moves - 1], P) is None  # too few moves to say
    no_api = with_points(cdp, coalesced=[0] * len(cdp.points.x))  # a browser without getCoalescedEvents
    assert coalesced_single(no_api, moves, P) is None
    os_input = fixture("os_xdotool")
    os_moves = pressed_mouse_moves(os_input)
    assert os_moves is not None and coalesced_single(os_input, os_moves, P) is False


def test_one_frame_with_two_samples_in_fifty_is_still_single() -> None:
    # A 125 Hz mouse on a 144 Hz display: mostly one sample a frame, now and then two.
    cdp = press_only("cdp_headed")
    counts = list(cdp.points.coalesced or [])
    counts[10] = 2
    moves = pressed_mouse_moves(cdp)
    assert moves is not None and coalesced_single(with_points(cdp, coalesced=counts), moves, P) is True
    counts[20] = counts[30] = 2  # 3 of 60 moves: 5 %, above the 2 % allowed
    assert coalesced_single(with_points(cdp, coalesced=counts), moves, P) is False


def test_fractional_steps_accept_whole_css_or_device_pixels() -> None:
    os_input = fixture("os_xdotool")
    moves = pressed_mouse_moves(os_input)
    assert moves is not None and fractional_steps(os_input, moves, P) is False
    cdp = fixture("cdp_headless")
    cdp_moves = pressed_mouse_moves(cdp)
    assert cdp_moves is not None and fractional_steps(cdp, cdp_moves, P) is True
    # Whole device pixels at a 1.25 ratio are 0.8 CSS px steps: not fractional.
    scaled = os_input.model_copy(
        update={"viewport": os_input.viewport.model_copy(update={"device_pixel_ratio": 1.25})}
    )
    xs = [0.1 + 0.8 * i / 600 for i in range(len(os_input.points.x))]
    assert fractional_steps(with_points(scaled, x=[round(v, 5) for v in xs]), moves, P) is False


def test_sparse_moves_counts_moves_per_press() -> None:
    cdp = press_only("cdp_headed")
    events = cdp.points.event
    jump = with_points(
        cdp,
        **{k: [v[0], v[1], v[-1]] for k, v in cdp.points.model_dump(exclude_none=True).items() if k != "sub"},
    )
    assert events[0] == "down" and jump.points.event == ["down", "move", "up"]
    moves = pressed_mouse_moves(jump)
    assert moves is not None and sparse_moves(jump, moves, P, jump.arrays()) is True
    full = pressed_mouse_moves(cdp)
    assert full is not None and sparse_moves(cdp, full, P, cdp.arrays()) is False


def test_slow_moves_reads_the_median_interval_between_pressed_moves() -> None:
    os_input = fixture("os_xdotool")
    moves = pressed_mouse_moves(os_input)
    assert moves is not None and slow_moves(os_input, moves, P, os_input.arrays()) is False  # 17 ms
    times = [round(t * 6, 2) for t in os_input.points.t_ms]  # ~100 ms apart: a recording's rate
    slowed = with_points(os_input, t_ms=times, sub=None)
    assert slow_moves(slowed, moves, P, slowed.arrays()) is True
    assert slow_moves(slowed, moves[:3], P, slowed.arrays()) is None  # two intervals say nothing


def test_a_short_tear_replayed_at_a_recordings_rate_is_injected_input() -> None:
    # What the browser tests' replayed people send over DevTools: 4 moves, ~110 ms apart, fractional positions.
    cdp = press_only("cdp_headed")
    keep = [0, 10, 20, 30, 40, len(cdp.points.x) - 1]
    columns = cdp.points.model_dump(exclude_none=True)
    short = {k: [v[i] for i in keep] for k, v in columns.items() if k != "sub"}
    short["t_ms"] = [1000.0 + 110.0 * k for k in range(len(keep))]
    trace = with_env(with_points(cdp, **short), None)
    result = assess(trace)
    # The press alone (no way to the grip before it) is a fourth tell.
    assert result.tells == ["coalesced_single", "fractional_steps", "slow_moves", "no_approach"]
    assert result.reasons == ["injected_input"]


def grid_trace(offset_px: float) -> Trace:
    """Two drags from cell centres (moved ``offset_px`` right) into slots 0 and 1, as a solver script makes them."""
    task = grid_layout(2)
    width = task.area_px[0]
    xs: list[float] = []
    ys: list[float] = []
    events: list[str] = []
    for k, cell in enumerate((0, 4)):
        (x0, y0), (x1, y1) = task.cells[cell].centre, task.slots[k].centre
        for i in range(12):
            u = i / 11
            xs.append(round(x0 + offset_px / width + (x1 - x0) * u, 5))
            ys.append(round(y0 + (y1 - y0) * u, 5))
            events.append("down" if i == 0 else "up" if i == 11 else "move")
    n = len(xs)
    points = {"x": xs, "y": ys, "t_ms": [16.7 * i for i in range(n)], "event": events}
    points |= {"pointer_type": ["mouse"] * n, "trusted": [True] * n, "coalesced": [1] * n}
    return Trace.model_validate(
        {"points": points, "viewport": {"width_px": 1280, "height_px": 800}, "task": task.model_dump()}
    )


def test_exact_centres_on_a_phase_b_answer() -> None:
    assert exact_centres(grid_trace(0.0), P) is True
    assert exact_centres(grid_trace(0.4), P) is True
    assert exact_centres(grid_trace(0.6), P) is False
    assert exact_centres(fixture("cdp_headed"), P) is None  # a tear has no cells
    result = assess(grid_trace(0.0))
    assert "exact_centres" in result.tells and "coalesced_single" in result.tells
    assert result.reasons == ["injected_input"]


def test_automation_env_reads_webdriver_headless_and_brands() -> None:
    trace = fixture("os_xdotool")
    assert automation_env(trace) is False
    assert automation_env(with_env(trace, None)) is False
    assert automation_env(with_env(trace, EnvReport(webdriver=True))) is True
    assert automation_env(with_env(trace, EnvReport(headless=True))) is True
    assert automation_env(with_env(trace, EnvReport(brands=["HeadlessChrome", "Chromium"]))) is True
    assert automation_env(with_env(trace, EnvReport(webdriver=None, brands=None))) is False


# --- what is never flagged --------------------------------------------------------------------------------------


def test_one_pointer_tell_alone_is_never_injected_input() -> None:
    # Playwright's events with whole-pixel steps (a careful script): coalesced_single is the only pointer tell.
    cdp = fixture("cdp_headed")
    steps = [0.1 + round(i * 8) / 600 for i in range(len(cdp.points.x))]
    rounded = with_env(with_points(cdp, x=[round(v, 5) for v in steps], y=[0.5] * len(steps)), None)
    result = assess(rounded)
    assert result.tells == ["coalesced_single"]
    assert result.reasons == []


def test_an_old_browser_without_the_apis_is_not_flagged() -> None:
    # No getCoalescedEvents (counts 0), no evidence columns, no environment report: nothing can be judged.
    cdp = fixture("cdp_headless")
    n = len(cdp.points.x)
    old = with_env(
        with_points(cdp, coalesced=[0] * n, screen_dx=None, screen_dy=None, movement_x=None, movement_y=None),
        None,
    )
    old = with_points(old, frame_ms=None, sub=None)
    result = assess(old)
    assert result.reasons == []
    assert "coalesced_single" not in result.evaluated


@pytest.mark.parametrize("pointer", ["touch", "pen"])
def test_touch_and_pen_are_not_judged_on_pointer_tells(pointer: str) -> None:
    cdp = with_env(fixture("cdp_headed"), EnvReport(webdriver=False))
    touch = with_points(cdp, pointer_type=[pointer] * len(cdp.points.x))
    result = assess(touch)
    assert result.reasons == []
    assert result.evaluated == ["automation_env"]


def test_a_foreign_pointer_type_inside_a_press_is_refused() -> None:
    """Review finding 13: one ``touch`` event in a CDP mouse trace switched off every pointer tell. A press has
    one pointer type (a browser reports one per pointer id, and the SDK records one), so the schema refuses it."""
    cdp = with_env(press_only("cdp_headed"), EnvReport(webdriver=False))
    n = len(cdp.points.x)
    with pytest.raises(ValidationError, match="mixed_pointer_types"):
        with_points(cdp, pointer_type=["mouse"] * (n - 1) + ["touch"])
    with pytest.raises(ValidationError, match="mixed_pointer_types"):
        with_points(cdp, pointer_type=["mouse", "pen"] + ["mouse"] * (n - 2))


def test_a_touch_event_outside_the_presses_leaves_the_mouse_presses_judged() -> None:
    """Hovering after the press with another pointer type (the schema allows it: no press) still leaves the
    mouse press judged on its tells (the old code judged no tell once any event was not a mouse's)."""
    cdp = with_env(fixture("cdp_headed"), EnvReport(webdriver=False))
    body = cdp.model_dump(exclude_none=True)
    points = body["points"]
    for name, column in points.items():
        if name != "sub" and isinstance(column, list):
            column.append(column[-1])
    points["event"][-1], points["pointer_type"][-1] = "move", "touch"
    points["t_ms"][-1] += 5.0
    hover = Trace.model_validate(body)
    assert hover.points.event[-2:] == ["up", "move"]
    assert assess(hover).reasons == assess(cdp).reasons == ["injected_input"]


def test_the_keyboard_path_is_judged_on_its_environment_only() -> None:
    cdp = fixture("cdp_headed")
    keyboard = with_points(cdp, pointer_type=None, coalesced=None)
    assert assess(keyboard).reasons == ["automation_env"]
    assert assess(with_env(keyboard, EnvReport(webdriver=False))).reasons == []


def test_the_fixtures_approach_the_grip_before_pressing() -> None:
    for name in ("cdp_headless", "cdp_headed", "os_xdotool"):
        events = fixture(name).points.event
        assert events.index("down") >= 10, name  # 25 approach steps, less what the frames coalesced


@pytest.mark.parametrize("kept", [0, 1])
def test_a_tear_pressed_without_a_way_to_the_grip_is_a_tell(kept: int) -> None:
    # The OS-input tear with its approach cut to `kept` moves: a pointer that jumped onto the grip.
    os_input = fixture("os_xdotool")
    jumped = from_event(os_input, os_input.points.event.index("down") - kept)
    result = assess(jumped)
    assert result.tells == ["no_approach"]
    assert result.reasons == []  # one tell alone is never injected input
    two = from_event(os_input, os_input.points.event.index("down") - 2)
    assert "no_approach" not in assess(two).tells


def test_no_approach_is_judged_on_mouse_tears_only() -> None:
    os_input = fixture("os_xdotool")
    jumped = from_event(os_input, os_input.points.event.index("down"))
    touch = with_points(jumped, pointer_type=["touch"] * len(jumped.points.x))
    assert "no_approach" not in assess(touch).evaluated
    keyboard = with_points(jumped, pointer_type=None, coalesced=None)
    assert "no_approach" not in assess(keyboard).evaluated


def test_fixtures_are_small_and_in_the_schema() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        assert path.stat().st_size < 20_000, path
        body: dict[str, Any] = json.loads(path.read_text())
        Trace.model_validate(body)
