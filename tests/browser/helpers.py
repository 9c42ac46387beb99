"""What the browser tests do to the stack over HTTP: pass a challenge, use the shop's API."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np

from redteam.stack import Stack
from tcurity.data.adapter import to_perforation
from tcurity.sampling import Path2
from tcurity.traces import (
    Event,
    GridTask,
    PerforationTask,
    Rect,
    TraceArrays,
    make_trace,
    with_browser_signals,
)

CHALLENGE = "/api/v1/challenge/sessions"


# --- the challenge over HTTP (what the SDK does, without a browser) ---------------------------------------------
def _post(client: httpx.Client, stack: Stack, path: str, body: Any = None) -> dict[str, Any]:
    response = client.post(f"{stack.url}{path}", json=body, headers={"Origin": stack.url})
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def answer_phase_a(
    client: httpx.Client, stack: Stack, session_id: str, strokes: list[Path2]
) -> dict[str, Any]:
    """Tears with held-out human strokes until one passes (each retry takes a new task and the next stroke).

    Takes the strokes it uses out of ``strokes``: a stroke answers one session only (the backend refuses its
    shape in any other as ``replayed_trace``).
    """
    result: dict[str, Any] = {}
    while strokes:
        path = strokes.pop(0)
        issued = _post(client, stack, f"{CHALLENGE}/{session_id}/phase-a")
        task = PerforationTask.model_validate(issued["task"])
        trace = with_browser_signals(make_trace(to_perforation(path, task), task))
        time.sleep(
            (trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05
        )  # the person takes that long
        body = {"trace": trace.model_dump(mode="json")}
        result = _post(client, stack, f"{CHALLENGE}/{session_id}/phase-a/answer", body)
        if result["outcome"] != "retry":
            return result
    return result


def grid_trace(task: GridTask, cells: list[int], rng: np.random.Generator) -> TraceArrays:
    """Drags from near each cell's centre into slot ``k``, with rests between (one press per slot); ``rng``
    bows every drag by its own amount and moves every point a little, so no two answers share a shape (the
    backend refuses one near an earlier answer's as replayed)."""
    xs: list[float] = []
    ys: list[float] = []
    events: list[int] = []
    ts: list[float] = []
    t = 0.0
    for k, cell in enumerate(cells):
        (x0, y0), (x1, y1) = _centre(task.cells[cell]), _centre(task.slots[k])
        bow = float(rng.uniform(-0.25, 0.25))  # sideways, in lengths of the drag, at its middle
        for i, u in enumerate(np.linspace(0.0, 1.0, 8)):
            eased = u * u * (3 - 2 * u)
            side = bow * np.sin(np.pi * eased)
            xs.append(x0 + (x1 - x0) * eased - (y1 - y0) * side + float(rng.normal(0.0, 0.004)))
            ys.append(y0 + (y1 - y0) * eased + (x1 - x0) * side + float(rng.normal(0.0, 0.004)))
            events.append(Event.DOWN if i == 0 else Event.UP if i == 7 else Event.MOVE)
            ts.append(t)
            t += 45.0
        t += 350.0
    return TraceArrays(np.array(xs), np.array(ys), np.array(ts), np.array(events, dtype=np.int8))


def _centre(rect: Rect) -> tuple[float, float]:
    return rect.centre


def answer_phase_b(client: httpx.Client, stack: Stack, session_id: str) -> dict[str, Any]:
    """Drags the right tiles (the double tells which) into the slots in order."""
    issued = _post(client, stack, f"{CHALLENGE}/{session_id}/phase-b")
    task = GridTask.model_validate(issued["task"])
    problem = issued["problem"]
    answer = httpx.get(f"{stack.ai_url}/oracle/answers/{problem['problem_id']}").json()["answer"]
    positions = {tile["tile_id"]: tile["position"] for tile in problem["tiles"]}
    arrays = grid_trace(task, [positions[t] for t in answer], np.random.default_rng())
    trace = with_browser_signals(make_trace(arrays, task))
    time.sleep((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
    body = {"tile_ids": answer, "trace": trace.model_dump(mode="json")}
    return _post(client, stack, f"{CHALLENGE}/{session_id}/phase-b/answer", body)


def pass_challenge(stack: Stack, strokes: list[Path2], action: str = "booking") -> str:
    """A real pass token for the demo shop, earned over HTTP through nginx."""
    with httpx.Client(timeout=20.0) as client:
        session = _post(client, stack, CHALLENGE, {"sitekey": stack.sitekey, "action": action})
        result = answer_phase_a(client, stack, session["session_id"], strokes)
        assert result["outcome"] == "next_phase", result
        result = answer_phase_b(client, stack, session["session_id"])
        assert result["outcome"] == "passed", result
        return str(result["token"])


# --- the shop's API -------------------------------------------------------------------------------------------
def queue_ticket(stack: Stack) -> str:
    """A ready place in the shop's queue."""
    ticket = httpx.post(f"{stack.url}/shop/api/queue").json()["ticket"]
    for _ in range(50):
        if httpx.get(f"{stack.url}/shop/api/queue/{ticket}").json()["ready"]:
            return str(ticket)
        time.sleep(0.1)
    raise AssertionError("the queue never let us in")


def book(stack: Stack, seat: str, token: str | None, ticket: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "seat": seat,
        "name": "Kim Minji",
        "email": "minji@example.com",
        "queue_ticket": ticket or queue_ticket(stack),
    }
    if token is not None:
        body["tcurity-response"] = token
    return httpx.post(f"{stack.url}/shop/api/bookings", json=body, timeout=20.0)


def free_seats(stack: Stack) -> list[str]:
    return [s["id"] for s in httpx.get(f"{stack.url}/shop/api/show").json()["seats"] if not s["sold"]]
