"""Attackers that need no browser: the replay bot and the token relay, speaking the SDK's HTTP API through nginx.

Both start from a pass that a held-out person earned legitimately (:func:`earn`), since what they test is what
happens to that pass's material afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from redteam.browser import Outcome, oracle_answer
from redteam.humans import HeldOutPeople
from redteam.stack import Stack, register_site
from tcurity.simulate.replay import replay_trace
from tcurity.traces import (
    Event,
    GridTask,
    PerforationTask,
    Trace,
    TraceArrays,
    make_trace,
    with_browser_signals,
)

SESSIONS = "/api/v1/challenge/sessions"


class Api:
    """The challenge API as the SDK calls it (through nginx, with the page's Origin)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = httpx.Client(base_url=stack.url, timeout=30.0, headers={"Origin": stack.url})

    def post(self, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        response = self.client.post(path, json=body)
        return response.status_code, dict(response.json())

    def session(self, sitekey: str, action: str = "booking") -> str:
        status, body = self.post(SESSIONS, {"sitekey": sitekey, "action": action})
        if status != 201:
            raise RuntimeError(f"no session: {status} {body}")
        return str(body["session_id"])

    def send(
        self, sid: str, phase: str, trace: Trace, tile_ids: list[str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Sends an answer after waiting as long as the trace lasts; returns the outcome (or the error code) and
        the body."""
        time.sleep((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
        body: dict[str, Any] = {"trace": trace.model_dump(mode="json")}
        if tile_ids is not None:
            body["tile_ids"] = tile_ids
        status, result = self.post(f"{SESSIONS}/{sid}/phase-{phase}/answer", body)
        return (str(result["outcome"]) if status == 200 else str(result["error"]["code"])), result

    def send_body(
        self, sid: str, phase: str, trace_body: dict[str, Any], tile_ids: list[str] | None = None
    ) -> str:
        """Sends a trace body as given (not checked here) after waiting as long as it lasts; the outcome or
        the error code."""
        t_ms = trace_body["points"]["t_ms"]
        time.sleep((t_ms[-1] - t_ms[0]) / 1000.0 + 0.05)
        body: dict[str, Any] = {"trace": trace_body}
        if tile_ids is not None:
            body["tile_ids"] = tile_ids
        status, result = self.post(f"{SESSIONS}/{sid}/phase-{phase}/answer", body)
        return str(result["outcome"]) if status == 200 else str(result["error"]["code"])

    def answer(self, sid: str, phase: str, trace: Trace, tile_ids: list[str] | None = None) -> str:
        return self.send(sid, phase, trace, tile_ids)[0]

    def task_a(self, sid: str) -> PerforationTask:
        return PerforationTask.model_validate(self.post(f"{SESSIONS}/{sid}/phase-a")[1]["task"])

    def problem_b(self, sid: str) -> tuple[GridTask, list[str], list[tuple[int, int]]]:
        issued = self.post(f"{SESSIONS}/{sid}/phase-b")[1]
        positions = {t["tile_id"]: int(t["position"]) for t in issued["problem"]["tiles"]}
        answer = oracle_answer(self.stack, issued["problem"]["problem_id"])
        return (
            GridTask.model_validate(issued["task"]),
            answer,
            [(positions[t], k) for k, t in enumerate(answer)],
        )

    def book(self, token: str | None) -> bool:
        """Queues, takes a free seat and books it with ``token``; whether the shop booked it."""
        ticket = self.client.post("/shop/api/queue").json()["ticket"]
        for _ in range(100):
            if self.client.get(f"/shop/api/queue/{ticket}").json()["ready"]:
                break
            time.sleep(0.1)
        seats = [s["id"] for s in self.client.get("/shop/api/show").json()["seats"] if not s["sold"]]
        body = {"seat": seats[0], "name": "Kim Minji", "email": "minji@example.com", "queue_ticket": ticket}
        body["tcurity-response"] = token or ""
        return self.client.post("/shop/api/bookings", json=body).status_code in (200, 201)


@dataclass
class Earned:
    """A legitimate pass and the traces that earned it."""

    token: str
    tear: Trace
    grid: Trace
    tile_ids: list[str]


def earn(api: Api, people: HeldOutPeople, sitekey: str, action: str = "booking", tries: int = 4) -> Earned:
    """A held-out person passes both phases over HTTP (new sessions until one passes)."""
    for _ in range(tries):
        sid = api.session(sitekey, action)
        for _ in range(3):
            task = api.task_a(sid)
            tear = with_browser_signals(make_trace(people.tear(task), task))
            outcome = api.answer(sid, "a", tear)
            if outcome != "retry":
                break
        if outcome != "next_phase":
            continue
        for _ in range(3):
            grid_task, answer, moves = api.problem_b(sid)
            grid = with_browser_signals(make_trace(people.grid(grid_task, moves), grid_task))
            outcome, result = api.send(sid, "b", grid, answer)
            if outcome == "passed":
                return Earned(str(result["token"]), tear, grid, answer)
            if outcome != "retry":
                break
    raise RuntimeError("no held-out person passed: the harness cannot test what follows a pass")


REPLAY_VARIANTS = ("exact", "retargeted", "junk_press", "noisy")
"""How the replay bot re-sends an accepted tear: as it was; re-targeted onto the new perforation and
time-warped; that plus a throwaway second press (security review 1a); that plus Gaussian noise of 0.5, 2 or
4 px on every point (review 1b). Phase B always gets the accepted grid answer's trace, with noise added for
``noisy``."""

NOISE_PX = (0.5, 2.0, 4.0)


def retargeted(accepted: Trace, task: PerforationTask, rng: np.random.Generator) -> TraceArrays:
    """``accepted`` carried onto ``task`` and time-warped (:func:`tcurity.simulate.replay.replay_trace`)."""
    speed, warp = float(rng.uniform(0.8, 1.25)), float(rng.uniform(-0.15, 0.15))
    return replay_trace(accepted, task, speed, warp)


def with_noise(
    arrays: TraceArrays, area_px: tuple[int, int], noise_px: float, rng: np.random.Generator
) -> TraceArrays:
    """The events with Gaussian noise of ``noise_px`` (task-area pixels) on every point."""
    x = arrays.x + rng.normal(0.0, noise_px, len(arrays.x)) / area_px[0]
    y = arrays.y + rng.normal(0.0, noise_px, len(arrays.y)) / area_px[1]
    return TraceArrays(np.clip(x, -1.0, 2.0), np.clip(y, -1.0, 2.0), arrays.t_ms, arrays.event)


def with_junk_press(arrays: TraceArrays, rng: np.random.Generator) -> TraceArrays:
    """The events and a random 5-point press 60 ms after the last ``up`` (read by no geometry or feature)."""
    t = np.r_[arrays.t_ms, arrays.t_ms[-1] + 60.0 + 10.0 * np.arange(5)]
    junk = [Event.DOWN, Event.MOVE, Event.MOVE, Event.MOVE, Event.UP]
    event = np.r_[arrays.event, junk].astype(np.int8)
    return TraceArrays(
        np.r_[arrays.x, rng.uniform(0.05, 0.3, 5)], np.r_[arrays.y, rng.uniform(0.3, 0.7, 5)], t, event
    )


def replay_body(arrays: TraceArrays, task: PerforationTask | GridTask, like: Trace) -> dict[str, Any]:
    """A trace body as a bot sends it, built without the schema's own checks (the server must make them), with
    the browser signals the SDK sends (so a replay is judged as a replay, not for missing signals)."""
    points = arrays.to_points().model_dump(mode="json")
    n = len(points["x"])
    points |= {"pointer_type": ["mouse"] * n, "trusted": [True] * n, "coalesced": [1] * n}
    return like.model_dump(mode="json") | {"points": points, "task": task.model_dump(mode="json")}


def replay_attempts(
    api: Api,
    people: HeldOutPeople,
    n: int,
    rng: np.random.Generator,
    variants: tuple[str, ...] = REPLAY_VARIANTS,
) -> list[Outcome]:
    """Re-sends a person's accepted traces in new sessions, cycling through ``variants`` (of
    :data:`REPLAY_VARIANTS`; the ``noisy`` ones through :data:`NOISE_PX` in turn)."""
    unknown = set(variants) - set(REPLAY_VARIANTS)
    if unknown:
        raise ValueError(f"unknown replay variants: {sorted(unknown)}")
    earned = earn(api, people, api.stack.sitekey)
    outcomes = []
    for i in range(n):
        variant = variants[i % len(variants)]
        outcome = Outcome()
        sid = api.session(api.stack.sitekey)
        task = api.task_a(sid)
        noise_px = NOISE_PX[(i // len(variants)) % len(NOISE_PX)]
        if variant == "exact":
            arrays, sent = earned.tear.arrays(), earned.tear.task
        else:
            arrays, sent = retargeted(earned.tear, task, rng), task
        if variant == "junk_press":
            arrays = with_junk_press(arrays, rng)
        if variant == "noisy":
            arrays = with_noise(arrays, task.area_px, noise_px, rng)
        outcome.phase_a = api.send_body(sid, "a", replay_body(arrays, sent, earned.tear)) == "next_phase"
        if outcome.phase_a:
            grid_task, answer, _ = api.problem_b(sid)
            grid = earned.grid.arrays()
            if variant == "noisy":
                grid = with_noise(grid, grid_task.area_px, noise_px, rng)
            body = replay_body(grid, grid_task, earned.grid)
            outcome.phase_b = api.send_body(sid, "b", body, answer) == "passed"
        outcomes.append(outcome)
    return outcomes


RELAY_VARIANTS = ("other_site", "other_action", "reuse", "expired")


def relay_attempts(
    api: Api, people: HeldOutPeople, n: int, token_ttl_s: float, variants: tuple[str, ...] = RELAY_VARIANTS
) -> list[Outcome]:
    """Tokens earned legitimately, then used where they were not issued for, in turn: another site's token at the
    shop, a token for another action, a token a second time, and a token after it expired. ``booked`` counts
    the relayed use only (the first, legitimate use of a re-used token is not an attack)."""
    stack = api.stack
    other_sitekey, _ = register_site(
        stack.root, stack.pepper, stack.signing_key, stack.ai_token, "Another shop"
    )
    time.sleep(1.5)  # the backend re-reads its sites file every 0.5 s
    outcomes = []
    for i in range(n):
        variant = variants[i % len(variants)]
        if variant == "other_site":
            earned = earn(api, people, other_sitekey)
        else:
            earned = earn(api, people, stack.sitekey, "login" if variant == "other_action" else "booking")
        if variant == "reuse" and not api.book(earned.token):
            raise RuntimeError("the legitimate first use of a token was refused")
        if variant == "expired":
            time.sleep(token_ttl_s + 1.5)
        booked = api.book(earned.token)
        outcomes.append(Outcome(phase_a=True, phase_b=True, booked=booked, full=booked))
    return outcomes
