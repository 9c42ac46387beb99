"""The demo shop on its own: seats sell once, the queue gates booking, and a booking goes through only on
siteverify's ``success`` (the backend is a recording stand-in here; tests/browser runs the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi.testclient import TestClient

from web.demo.server import DemoSettings, captcha_code, create_app, pick_lang
from web.demo.shop import PRESOLD, SeatTakenError, Shop

SECRET = "demo-secret-0123456789abcdef"
SITEKEY = "demo-sitekey-1234"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine on its own loop in a worker thread (Playwright's sync API may hold this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_seat_is_sold_once() -> None:
    shop = Shop()

    async def two_buyers() -> list[Any]:
        return await asyncio.gather(
            shop.book("C3", "a", "a@x.io"), shop.book("C3", "b", "b@x.io"), return_exceptions=True
        )

    outcomes = run(two_buyers())
    assert sum(isinstance(o, SeatTakenError) for o in outcomes) == 1
    assert shop.bookings["C3"].name in {"a", "b"}
    with pytest.raises(SeatTakenError):
        run(shop.book(sorted(PRESOLD)[0], "c", "c@x.io"))


def test_the_queue_lets_a_ticket_in_after_its_wait() -> None:
    clock = Clock()
    shop = Shop(queue_wait_s=3.0, clock=clock)
    ticket, wait_s = shop.join_queue()
    assert wait_s == 3.0 and shop.queue_wait_left_s(ticket) == 3.0
    clock.now += 3.0
    assert shop.queue_wait_left_s(ticket) == 0.0
    assert shop.queue_wait_left_s("unknown") is None


def test_a_queue_ticket_expires_after_its_time_to_book() -> None:
    clock = Clock()
    shop = Shop(queue_wait_s=3.0, ticket_ttl_s=60.0, clock=clock)
    ticket, _ = shop.join_queue()
    clock.now += 3.0 + 59.0
    assert shop.queue_wait_left_s(ticket) == 0.0
    clock.now += 1.0
    assert shop.queue_wait_left_s(ticket) is None
    assert not shop.claim_ticket(ticket)
    shop.join_queue()
    assert shop.queue_size == 1  # the expired ticket is gone, not only refused


def test_the_queue_holds_a_bounded_number_of_tickets() -> None:
    shop = Shop(queue_wait_s=0.0, max_tickets=3, clock=Clock())
    tickets = [shop.join_queue()[0] for _ in range(5)]
    assert shop.queue_size == 3
    assert [shop.queue_wait_left_s(t) for t in tickets] == [None, None, 0.0, 0.0, 0.0]  # the oldest make room


def test_a_ticket_is_claimed_by_one_attempt_and_spent_by_a_booking() -> None:
    shop = Shop(queue_wait_s=0.0, clock=Clock())
    ticket, _ = shop.join_queue()
    assert shop.claim_ticket(ticket)
    assert not shop.claim_ticket(ticket)  # in use by the first attempt
    shop.finish_ticket(ticket, booked=False)
    assert shop.claim_ticket(ticket)  # a refused attempt gives it back
    shop.finish_ticket(ticket, booked=True)
    assert not shop.claim_ticket(ticket)
    assert shop.queue_wait_left_s(ticket) is None


def test_seat_map() -> None:
    seats = Shop().seats()
    assert len(seats) == 60
    assert {s["id"] for s in seats if s["sold"]} == set(PRESOLD)
    assert seats[0] == {"id": "A1", "row": "A", "number": 1, "price_krw": 154_000, "sold": True}


def test_messages_and_language() -> None:
    assert captcha_code(["timeout-or-duplicate"]) == "captcha_expired"
    assert captcha_code(["invalid-input-response"]) == "captcha_invalid"
    assert captcha_code(["action-mismatch"]) == "captcha_failed"
    assert pick_lang("ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert pick_lang("en-GB,en") == "en"
    assert pick_lang("") == "en"


def test_placeholder_secrets_are_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="DEMO_SITE_SECRET"):
        DemoSettings(demo_site_secret="secret", demo_sitekey=SITEKEY)  # type: ignore[arg-type]
    DemoSettings(tcurity_env="development", demo_site_secret="secret", demo_sitekey=SITEKEY)  # type: ignore[arg-type]


# --- the booking endpoint against a recording siteverify ---------------------------------------------------------
Answer = Callable[[dict[str, list[str]]], httpx.Response]


def shop_client(answer: Answer) -> tuple[TestClient, list[dict[str, list[str]]]]:
    calls: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/siteverify"
        form = parse_qs(request.content.decode())
        calls.append(form)
        return answer(form)

    settings = DemoSettings(
        demo_site_secret=SECRET,  # type: ignore[arg-type]
        demo_sitekey=SITEKEY,
        backend_url="http://backend",
        demo_queue_wait_s=0.0,
    )
    app = create_app(settings, verify_transport=httpx.MockTransport(handler))
    return TestClient(app), calls


def booking(
    client: TestClient, seat: str, token: str | None = "tok", ticket: str | None = None
) -> httpx.Response:
    ticket = ticket or client.post("/shop/api/queue").json()["ticket"]
    body: dict[str, Any] = {"seat": seat, "name": "Lee", "email": "lee@example.com", "queue_ticket": ticket}
    if token is not None:
        body["tcurity-response"] = token
    return client.post("/shop/api/bookings", json=body)


def test_booking_asks_siteverify_with_the_secret_sitekey_and_action() -> None:
    client, calls = shop_client(lambda _: httpx.Response(200, json={"success": True, "error-codes": []}))
    answer = booking(client, "B2", "the-token")
    assert answer.status_code == 201
    assert answer.json()["code"] == "booked" and "B2" in answer.json()["message"]["ko"]
    assert calls == [
        {"secret": [SECRET], "response": ["the-token"], "sitekey": [SITEKEY], "expected_action": ["booking"]}
    ]
    assert booking(client, "B2").status_code == 409  # sold: refused before siteverify, the token is not spent
    assert len(calls) == 1


def test_booking_is_refused_without_success() -> None:
    client, _ = shop_client(
        lambda _: httpx.Response(200, json={"success": False, "error-codes": ["action-mismatch"]})
    )
    refused = booking(client, "B3")
    assert refused.status_code == 403
    assert refused.json() | {"message": None} == {
        "ok": False,
        "code": "captcha_failed",
        "message": None,
        "error_codes": ["action-mismatch"],
    }
    assert booking(client, "B3", token=None).json()["code"] == "captcha_missing"


def test_booking_fails_closed_when_siteverify_cannot_answer() -> None:
    def down(_: dict[str, list[str]]) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client, _ = shop_client(down)
    refused = booking(client, "B4")
    assert refused.status_code == 503 and refused.json()["code"] == "verify_unavailable"
    assert client.get("/shop/api/show").json()["seats"][13]["sold"] is False  # B4 is still free


def test_the_page_carries_the_sitekey_and_no_inline_script() -> None:
    client, _ = shop_client(lambda _: httpx.Response(200, json={"success": True}))
    page = client.get("/?lang=ko")
    assert '<html lang="ko">' in page.text
    assert f'data-sitekey="{SITEKEY}"' in page.text and 'data-action="booking"' in page.text
    assert "<script>" not in page.text and 'src="/sdk.js"' in page.text
    assert client.get("/", headers={"Accept-Language": "en-US"}).text.count('<html lang="en">') == 1
    assert client.post("/shop/api/bookings", json={"seat": "Z9"}).json()["code"] == "invalid_request"


def test_a_ready_queue_ticket_books_once() -> None:
    client, calls = shop_client(lambda _: httpx.Response(200, json={"success": True, "error-codes": []}))
    ticket = client.post("/shop/api/queue").json()["ticket"]
    assert booking(client, "D1", ticket=ticket).status_code == 201
    again = booking(client, "D2", ticket=ticket)
    assert (again.status_code, again.json()["code"]) == (403, "queue_required")
    assert len(calls) == 1  # refused before siteverify: the second token is not spent
    assert client.get(f"/shop/api/queue/{ticket}").status_code == 404


def test_a_refused_booking_keeps_its_queue_ticket() -> None:
    verdicts = iter([{"success": False, "error-codes": ["invalid-input-response"]}, {"success": True}])
    client, _ = shop_client(lambda _: httpx.Response(200, json=next(verdicts)))
    ticket = client.post("/shop/api/queue").json()["ticket"]
    assert booking(client, "D4", ticket=ticket).json()["code"] == "captcha_invalid"
    assert booking(client, "D4", ticket=ticket).status_code == 201  # the visitor solves again, same turn


def test_one_ticket_cannot_book_two_seats_at_once() -> None:
    async def slow_success(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # both bookings are in flight while siteverify answers
        return httpx.Response(200, json={"success": True})

    settings = DemoSettings(
        demo_site_secret=SECRET,  # type: ignore[arg-type]
        demo_sitekey=SITEKEY,
        backend_url="http://backend",
        demo_queue_wait_s=0.0,
    )
    app = create_app(settings, verify_transport=httpx.MockTransport(slow_success))

    async def two_bookings() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            ticket = (await client.post("/shop/api/queue")).json()["ticket"]
            bodies = [
                {"seat": seat, "name": "Lee", "email": "lee@example.com", "queue_ticket": ticket}
                | {"tcurity-response": f"tok-{seat}"}
                for seat in ("E1", "E2")
            ]
            answers = await asyncio.gather(*(client.post("/shop/api/bookings", json=b) for b in bodies))
            return sorted(a.status_code for a in answers)

    assert run(two_bookings()) == [201, 403]
