"""The demo ticket shop's server (port 5173): the pages, the seat map, the queue, and bookings that only go
through after the T-curity backend's siteverify says ``success`` for the token the page sent.

Behind nginx, ``/`` and ``/shop/api/`` come here, ``/api/`` goes to the T-curity backend and ``/sdk.js`` is the
SDK build. Every API answer says what happened in plain words, in English and Korean.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from web.demo.shop import SeatTakenError, Shop
from web.demo.verify import SiteVerifier, Verdict

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret"})


class DemoSettings(BaseSettings):
    """Environment variables of the demo shop.

    Attributes:
        demo_site_secret: the shop's T-curity site secret (for siteverify; never sent to browsers).
        demo_sitekey: the shop's public sitekey (written into the page).
        backend_url: where the T-curity backend answers (siteverify is ``{BACKEND_URL}/api/v1/siteverify``).
        demo_action: the action the page asks the challenge for, required back from siteverify.
        demo_queue_wait_s: how long the virtual queue holds a visitor.
        demo_verify_timeout_s: the time limit of one siteverify call (past it, no booking).
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    tcurity_env: Literal["development", "local", "production", "test"] = "production"
    demo_site_secret: SecretStr
    demo_sitekey: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    backend_url: str = "http://127.0.0.1:8000"
    demo_action: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]{0,64}$")] = "booking"
    demo_queue_wait_s: float = Field(default=3.0, ge=0.0, le=600.0)
    demo_verify_timeout_s: float = Field(default=5.0, gt=0.0, le=30.0)

    @model_validator(mode="after")
    def _refuse_placeholder(self) -> DemoSettings:
        secret = self.demo_site_secret.get_secret_value()
        if self.tcurity_env != "development" and (secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 16):
            raise ValueError("DEMO_SITE_SECRET must be a real site secret outside development")
        return self


@lru_cache(maxsize=1)
def get_settings() -> DemoSettings:
    return DemoSettings()


# --- what the API says ---------------------------------------------------------------------------------------
MESSAGES: dict[str, tuple[str, str]] = {
    "booked": (
        "Booked! Seat {seat} is yours. Your booking number is {booking_id}.",
        "예매가 완료되었습니다! {seat} 좌석이 예매되었습니다. 예매 번호는 {booking_id}입니다.",
    ),
    "invalid_request": (
        "Please check the seat, your name and your email address.",
        "좌석, 이름, 이메일 주소를 확인해 주세요.",
    ),
    "captcha_missing": (
        "Please complete the security check before booking. No booking was made.",
        "예매하기 전에 보안 확인을 완료해 주세요. 예매되지 않았습니다.",
    ),
    "captcha_expired": (
        "Your security check expired or was already used. Please verify again. No booking was made.",
        "보안 확인이 만료되었거나 이미 사용되었습니다. 다시 확인해 주세요. 예매되지 않았습니다.",
    ),
    "captcha_invalid": (
        "Your security check could not be confirmed (the token is not valid). No booking was made.",
        "보안 확인을 인증할 수 없습니다(토큰이 올바르지 않습니다). 예매되지 않았습니다.",
    ),
    "captcha_failed": (
        "The security check did not pass. No booking was made.",
        "보안 확인을 통과하지 못했습니다. 예매되지 않았습니다.",
    ),
    "verify_unavailable": (
        "We cannot confirm the security check right now. No booking was made; please try again shortly.",
        "지금은 보안 확인을 검증할 수 없습니다. 예매되지 않았으니 잠시 후 다시 시도해 주세요.",
    ),
    "seat_taken": (
        "Sorry, seat {seat} has already been sold. Please choose another seat.",
        "죄송합니다. {seat} 좌석은 이미 판매되었습니다. 다른 좌석을 골라 주세요.",
    ),
    "queue_required": (
        "Please wait for your turn in the queue before booking.",
        "예매하기 전에 대기열에서 차례를 기다려 주세요.",
    ),
}


def outcome(status: int, code: str, **fields: Any) -> JSONResponse:
    """The API's one answer shape: ``ok``, a ``code``, the ``message`` in English and Korean, and extras."""
    en, ko = MESSAGES[code]
    params = {k: v for k, v in fields.items() if isinstance(v, str)}
    body = {
        "ok": 200 <= status < 300,
        "code": code,
        "message": {"en": en.format(**params), "ko": ko.format(**params)},
    }
    body.update(fields)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


class BookingRequest(BaseModel):
    """A booking as the page sends it; the token under the SDK's hidden field name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    seat: Annotated[str, Field(pattern=r"^[A-F](10|[1-9])$")]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    queue_ticket: Annotated[str, Field(min_length=1, max_length=64)]
    token: Annotated[str | None, Field(alias="tcurity-response", max_length=4096)] = None


def captcha_code(error_codes: list[str]) -> str:
    """The shop's message for siteverify's error codes."""
    if "timeout-or-duplicate" in error_codes:
        return "captcha_expired"
    if "invalid-input-response" in error_codes or "missing-input-response" in error_codes:
        return "captcha_invalid"
    return "captcha_failed"


# --- the app --------------------------------------------------------------------------------------------------
def create_app(
    settings: DemoSettings | None = None,
    *,
    shop: Shop | None = None,
    verify_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Builds the shop; tests inject the shop (its clock) and the transport towards the backend."""
    settings = settings or get_settings()
    shop = shop or Shop(queue_wait_s=settings.demo_queue_wait_s)
    verifier = SiteVerifier(
        settings.backend_url,
        settings.demo_site_secret.get_secret_value(),
        settings.demo_sitekey,
        settings.demo_action,
        settings.demo_verify_timeout_s,
        transport=verify_transport,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await verifier.close()

    app = FastAPI(
        title="T-curity demo shop", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.shop = shop
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return outcome(422, "invalid_request", fields=sorted({str(e["loc"][-1]) for e in exc.errors()}))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request, lang: str | None = None) -> HTMLResponse:
        """The shop's one page, in the visitor's language, with the sitekey written in."""
        chosen = lang if lang in ("en", "ko") else pick_lang(request.headers.get("accept-language", ""))
        body = page.replace("{{LANG}}", chosen).replace("{{SITEKEY}}", html.escape(settings.demo_sitekey))
        body = body.replace("{{ACTION}}", html.escape(settings.demo_action))
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    @app.get("/shop/api/show")
    async def show() -> dict[str, Any]:
        """The show and its seat map."""
        s = shop.show
        return {
            "show": {
                "id": s.show_id,
                "title": {"en": s.title_en, "ko": s.title_ko},
                "venue": {"en": s.venue_en, "ko": s.venue_ko},
                "starts_at": s.starts_at,
            },
            "seats": shop.seats(),
        }

    @app.post("/shop/api/queue")
    async def join_queue() -> dict[str, Any]:
        """A place in the virtual queue."""
        ticket, wait_s = shop.join_queue()
        return {"ticket": ticket, "wait_s": wait_s, "ready": wait_s <= 0}

    @app.get("/shop/api/queue/{ticket}")
    async def queue_status(ticket: str) -> JSONResponse:
        """How long until this queue ticket may book."""
        left = shop.queue_wait_left_s(ticket)
        if left is None:
            return outcome(404, "queue_required")
        return JSONResponse({"ticket": ticket, "wait_s": round(left, 1), "ready": left <= 0})

    @app.post("/shop/api/bookings")
    async def book(body: BookingRequest) -> JSONResponse:
        """Books a seat: queue turn, free seat, then siteverify's success for the token, then the sale."""
        refused = check_before_verify(shop, body)
        if refused is not None:
            return refused
        booked = False
        try:
            refused = check_verdict(await verifier.verify(body.token or "", None))
            if refused is not None:
                return refused
            try:
                booking = await shop.book(body.seat, body.name.strip(), body.email)
            except SeatTakenError:
                return outcome(409, "seat_taken", seat=body.seat)
            booked = True
            return outcome(201, "booked", seat=booking.seat, booking_id=booking.booking_id)
        finally:
            shop.finish_ticket(body.queue_ticket, booked)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def check_before_verify(shop: Shop, body: BookingRequest) -> JSONResponse | None:
    """Refusals that need no siteverify call (and do not spend the token): queue turn, token, free seat.

    When none applies, the queue ticket is claimed for this attempt (the caller finishes it): a ticket that is
    in use, spent or expired is refused like one whose turn has not come.
    """
    left = shop.queue_wait_left_s(body.queue_ticket)
    if left is None or left > 0:
        return outcome(403, "queue_required")
    if not body.token:
        return outcome(400, "captcha_missing")
    if shop.is_sold(body.seat):
        return outcome(409, "seat_taken", seat=body.seat)
    if not shop.claim_ticket(body.queue_ticket):
        return outcome(403, "queue_required")
    return None


def check_verdict(verdict: Verdict) -> JSONResponse | None:
    """The refusal for a siteverify verdict that is not a success (fail closed when it could not be asked)."""
    if not verdict.reachable:
        return outcome(503, "verify_unavailable")
    if not verdict.success:
        logger.info("booking refused by siteverify: %s", verdict.error_codes)
        return outcome(403, captcha_code(verdict.error_codes), error_codes=verdict.error_codes)
    return None


def pick_lang(accept_language: str) -> str:
    """Korean when the browser prefers it, else English."""
    first = accept_language.split(",", maxsplit=1)[0].strip().lower()
    return "ko" if first.startswith("ko") else "en"


def serve_app() -> FastAPI:
    """The uvicorn factory (``web.demo.server:serve_app``)."""
    return create_app(get_settings())


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("DEMO_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        "web.demo.server:serve_app",
        factory=True,
        host=os.environ.get("DEMO_HOST", "127.0.0.1"),
        port=int(os.environ.get("DEMO_PORT", "5173")),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
