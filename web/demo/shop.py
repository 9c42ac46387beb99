"""The shop's state, in memory: one show, its seats, the virtual queue, and the bookings.

A seat is sold at most once: :meth:`Shop.book` checks and marks it under one lock, and a booking never
releases a seat. The queue hands out unguessable tickets that become ready after a short wait; a booking needs
a ready ticket, as ticket sites gate their seat map behind a waiting room.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ROWS = "ABCDEF"
SEATS_PER_ROW = 10
# Seats already sold when the shop opens (so the map looks like a real one; fixed, not random).
PRESOLD = frozenset({"A1", "A2", "B5", "C7", "C8", "D3", "E10", "F1", "F6"})
PRICE_KRW = {"A": 154_000, "B": 154_000, "C": 132_000, "D": 132_000, "E": 99_000, "F": 99_000}


@dataclass(frozen=True, slots=True)
class Show:
    """The one show on sale."""

    show_id: str = "tcurity-live-2025"
    title_en: str = "T-curity Live: Perforation Tour"
    title_ko: str = "T-curity 라이브: 절취선 투어"
    venue_en: str = "Olympic Hall, Seoul"
    venue_ko: str = "서울 올림픽홀"
    starts_at: str = "2025-12-20T19:00:00+09:00"


@dataclass(frozen=True, slots=True)
class Booking:
    booking_id: str
    seat: str
    name: str
    email: str
    booked_at: float


class SeatTakenError(Exception):
    """The seat was sold already."""


@dataclass
class Shop:
    """Seats, queue tickets and bookings of one process (a restart empties it)."""

    queue_wait_s: float = 3.0
    clock: Callable[[], float] = time.monotonic
    show: Show = field(default_factory=Show)
    bookings: dict[str, Booking] = field(default_factory=dict)
    _queue: dict[str, float] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @staticmethod
    def seat_ids() -> list[str]:
        return [f"{row}{n}" for row in ROWS for n in range(1, SEATS_PER_ROW + 1)]

    def is_seat(self, seat: str) -> bool:
        return (
            len(seat) >= 2 and seat[0] in ROWS and seat[1:].isdigit() and 1 <= int(seat[1:]) <= SEATS_PER_ROW
        )

    def is_sold(self, seat: str) -> bool:
        return seat in PRESOLD or seat in self.bookings

    def seats(self) -> list[dict[str, object]]:
        """Every seat with its row, number, price and whether it is sold."""
        return [
            {
                "id": s,
                "row": s[0],
                "number": int(s[1:]),
                "price_krw": PRICE_KRW[s[0]],
                "sold": self.is_sold(s),
            }
            for s in self.seat_ids()
        ]

    def join_queue(self) -> tuple[str, float]:
        """A new queue ticket and the seconds until it is ready."""
        ticket = secrets.token_urlsafe(16)
        self._queue[ticket] = self.clock() + self.queue_wait_s
        return ticket, self.queue_wait_s

    def queue_wait_left_s(self, ticket: str) -> float | None:
        """Seconds until a ticket is ready (0 when ready); ``None`` for an unknown ticket."""
        ready_at = self._queue.get(ticket)
        if ready_at is None:
            return None
        return max(0.0, ready_at - self.clock())

    async def book(self, seat: str, name: str, email: str) -> Booking:
        """Sells a seat, once.

        Raises:
            SeatTakenError: when the seat is sold already.
        """
        async with self._lock:
            if self.is_sold(seat):
                raise SeatTakenError(seat)
            booking = Booking(f"TC-{secrets.token_hex(4).upper()}", seat, name, email, time.time())
            self.bookings[seat] = booking
            return booking
