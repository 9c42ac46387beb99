"""The shop's state, in memory: one show, its seats, the virtual queue, and the bookings.

A seat is sold at most once: :meth:`Shop.book` checks and marks it under one lock, and a booking never
releases a seat. The queue hands out unguessable tickets that become ready after a short wait; a booking needs
a ready ticket, as ticket sites gate their seat map behind a waiting room. A ticket books once: a booking
attempt claims it (so two attempts cannot share it), a booking spends it and a refusal gives it back. Tickets
expire ``ticket_ttl_s`` after they become ready, and the queue holds at most ``max_tickets`` (the oldest make
room), so it cannot grow without bound.
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
    ticket_ttl_s: float = 900.0
    max_tickets: int = 10_000
    clock: Callable[[], float] = time.monotonic
    show: Show = field(default_factory=Show)
    bookings: dict[str, Booking] = field(default_factory=dict)
    # ticket → when it is ready; in insertion order, which is ready order (every ticket waits as long).
    _queue: dict[str, float] = field(default_factory=dict)
    _claimed: set[str] = field(default_factory=set)
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

    @property
    def queue_size(self) -> int:
        """Tickets held (waiting, ready or claimed)."""
        return len(self._queue)

    def join_queue(self) -> tuple[str, float]:
        """A new queue ticket and the seconds until it is ready (expired tickets go first, then the oldest
        when the queue is full)."""
        self._drop_expired()
        while len(self._queue) >= self.max_tickets:
            self._forget(next(iter(self._queue)))
        ticket = secrets.token_urlsafe(16)
        self._queue[ticket] = self.clock() + self.queue_wait_s
        return ticket, self.queue_wait_s

    def queue_wait_left_s(self, ticket: str) -> float | None:
        """Seconds until a ticket is ready (0 when ready); ``None`` for an unknown, spent or expired ticket."""
        ready_at = self._queue.get(ticket)
        if ready_at is None:
            return None
        now = self.clock()
        if now >= ready_at + self.ticket_ttl_s:
            self._forget(ticket)
            return None
        return max(0.0, ready_at - now)

    def claim_ticket(self, ticket: str) -> bool:
        """Takes a ready ticket for one booking attempt; ``False`` when it is unknown, waiting, expired or
        claimed by another attempt. Synchronous, so atomic on the event loop."""
        if self.queue_wait_left_s(ticket) != 0.0 or ticket in self._claimed:
            return False
        self._claimed.add(ticket)
        return True

    def finish_ticket(self, ticket: str, booked: bool) -> None:
        """Ends a claimed ticket's attempt: a booking spends the ticket, a refusal gives it back."""
        if booked:
            self._forget(ticket)
        else:
            self._claimed.discard(ticket)

    def _drop_expired(self) -> None:
        cutoff = self.clock() - self.ticket_ttl_s
        while self._queue:
            oldest, ready_at = next(iter(self._queue.items()))
            if ready_at > cutoff:
                return
            self._forget(oldest)

    def _forget(self, ticket: str) -> None:
        self._queue.pop(ticket, None)
        self._claimed.discard(ticket)

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
