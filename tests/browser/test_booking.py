"""The demo shop books only on siteverify's success, never sells a seat twice, and nginx serves the system with
the headers and routes the SDK expects. Everything goes through nginx to the real stack (no browser needed)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx

from redteam.stack import Stack
from tcurity.sampling import Path2
from tests.browser.helpers import book, free_seats, pass_challenge, queue_ticket
from web.backend.app.core.security import new_id, pass_token


def test_a_valid_token_books_once_and_its_replay_is_refused(stack: Stack, human_strokes: list[Path2]) -> None:
    token = pass_challenge(stack, human_strokes)
    first, second = free_seats(stack)[:2]

    booked = book(stack, first, token)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["ok"] is True and body["code"] == "booked"
    assert f"Seat {first} is yours" in body["message"]["en"]
    assert f"{first} 좌석이 예매되었습니다" in body["message"]["ko"]
    assert first not in free_seats(stack)

    replayed = book(stack, second, token)
    assert replayed.status_code == 403
    assert replayed.json()["code"] == "captcha_expired"
    assert replayed.json()["error_codes"] == ["timeout-or-duplicate"]
    assert second in free_seats(stack)


def test_a_missing_token_is_refused(stack: Stack) -> None:
    seat = free_seats(stack)[0]
    for token in (None, ""):
        refused = book(stack, seat, token)
        assert refused.status_code == 400
        assert refused.json()["code"] == "captcha_missing"
        assert "No booking was made" in refused.json()["message"]["en"]
        assert "예매되지 않았습니다" in refused.json()["message"]["ko"]
    assert seat in free_seats(stack)


def test_a_forged_token_is_refused(stack: Stack) -> None:
    seat = free_seats(stack)[0]
    forged = pass_token(new_id(), "not-the-backend-key-" + secrets.token_hex(16))
    for token in (forged, "x" * 40, "a.b.c"):
        refused = book(stack, seat, token)
        assert refused.status_code == 403
        assert refused.json()["code"] == "captcha_invalid"
        assert refused.json()["error_codes"] == ["invalid-input-response"]
    assert seat in free_seats(stack)


def test_an_expired_token_is_refused(stack: Stack) -> None:
    # Tagged with the backend's real key, but the store holds no claims for it: how a token looks once its
    # 120 s (and the store's slack) are over.
    expired = pass_token(new_id(), stack.signing_key)
    seat = free_seats(stack)[0]
    refused = book(stack, seat, expired)
    assert refused.status_code == 403
    assert refused.json()["code"] == "captcha_expired"
    assert "expired or was already used" in refused.json()["message"]["en"]
    assert seat in free_seats(stack)


def test_a_seat_is_never_sold_twice(stack: Stack, human_strokes: list[Path2]) -> None:
    tokens = [pass_challenge(stack, human_strokes) for _ in range(2)]
    seat = free_seats(stack)[0]
    tickets = [queue_ticket(stack) for _ in tokens]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(lambda pair: book(stack, seat, pair[0], pair[1]), zip(tokens, tickets, strict=True))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.text for a in answers]
    taken = next(a for a in answers if a.status_code == 409).json()
    assert taken["code"] == "seat_taken"
    assert f"seat {seat} has already been sold" in taken["message"]["en"]


def test_booking_needs_a_ready_queue_turn(stack: Stack) -> None:
    ticket = httpx.post(f"{stack.url}/shop/api/queue").json()["ticket"]
    refused = book(stack, free_seats(stack)[0], "any", ticket=ticket)
    assert refused.status_code == 403
    assert refused.json()["code"] == "queue_required"


def test_nginx_serves_the_sdk_with_its_integrity_and_cache_rules(stack: Stack) -> None:
    script = httpx.get(f"{stack.url}/sdk.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert script.headers["cache-control"] == "public, max-age=300"
    manifest = httpx.get(f"{stack.url}/sdk/manifest.json").json()
    versioned = httpx.get(f"{stack.url}{manifest['script']}")
    assert versioned.status_code == 200
    assert "immutable" in versioned.headers["cache-control"]
    digest = base64.b64encode(hashlib.sha384(versioned.content).digest()).decode()
    assert manifest["integrity"] == f"sha384-{digest}"
    assert versioned.content == script.content
    assert httpx.get(f"{stack.url}/sdk/0.0.0/sdk.js").status_code == 404


def test_nginx_sets_security_headers_and_hides_metrics(stack: Stack) -> None:
    page = httpx.get(f"{stack.url}/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "img-src 'self' data:" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert stack.sitekey in page.text and "<script>" not in page.text
    api = httpx.get(f"{stack.url}/api/health")
    assert api.status_code == 200 and api.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{stack.url}/api/metrics").status_code == 404
    too_big = httpx.post(f"{stack.url}/shop/api/bookings", content=b"x" * 600_000)
    assert too_big.status_code == 413
    answer = httpx.post(f"{stack.url}/api/v1/challenge/sessions", content=b"x" * 1_100_000)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
