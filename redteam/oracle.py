"""The AI server the red-team harness runs: the real app on the real champions, plus an answer oracle.

A solver bot in the wild reads the pictures with its own classifier (``reports/metrics/phase_b_image.json``
measures how often that works). The harness gives its bots the right answer instead, so that what it measures
is the behaviour models, the only thing left between a perfect image solver and a booking. The oracle keeps the
answer of every problem the real ``POST /v1/phase-b/problems`` made (read from that response on its way out,
nothing else changes) and serves it at ``GET /oracle/answers/{problem_id}``, or, for a bot that reads the page
rather than the network, ``GET /oracle/answers/by-tile/{tile_id}`` (tile ids are drawn afresh for each problem).

Never run in production: the harness and the browser tests start it on loopback with
``uvicorn --factory redteam.oracle:create_app``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.app import create_app as create_ai_app

PROBLEMS_PATH = "/v1/phase-b/problems"
KEEP = 10_000  # answers kept, oldest dropped first


class AnswerBook:
    """The answers of the latest problems, by problem id."""

    def __init__(self, keep: int = KEEP) -> None:
        self._answers: OrderedDict[str, list[str]] = OrderedDict()
        self._by_tile: OrderedDict[str, str] = OrderedDict()
        self._keep = keep

    def record(self, body: bytes) -> None:
        for problem in orjson.loads(body).get("problems", []):
            answer = problem["answer"]
            self.add(
                answer["problem_id"],
                list(answer["answer"]),
                [t["tile_id"] for t in problem["client"]["tiles"]],
            )

    def add(self, problem_id: str, answer: list[str], tile_ids: list[str]) -> None:
        self._answers[problem_id] = answer
        for tile_id in tile_ids:
            self._by_tile[tile_id] = problem_id
        while len(self._answers) > self._keep:
            self._answers.popitem(last=False)
        while len(self._by_tile) > 9 * self._keep:
            self._by_tile.popitem(last=False)

    def get(self, problem_id: str) -> list[str] | None:
        return self._answers.get(problem_id)

    def by_tile(self, tile_id: str) -> list[str] | None:
        problem_id = self._by_tile.get(tile_id)
        return None if problem_id is None else self.get(problem_id)


class RecordAnswers:
    """ASGI middleware: copies the body of each successful problems response into the answer book."""

    def __init__(self, app: ASGIApp, book: AnswerBook) -> None:
        self.app = app
        self.book = book

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PROBLEMS_PATH:
            await self.app(scope, receive, send)
            return
        status = 0
        chunks: list[bytes] = []

        async def copy(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.book.record(b"".join(chunks))
            await send(message)

        await self.app(scope, receive, copy)


def add_oracle_routes(app: FastAPI, book: AnswerBook) -> None:
    """``GET /oracle/answers/{problem_id}`` and ``GET /oracle/answers/by-tile/{tile_id}`` (404 when unknown)."""

    def found(answer: list[str] | None) -> dict[str, Any]:
        if answer is None:
            raise HTTPException(404, "unknown problem")
        return {"answer": answer}

    @app.get("/oracle/answers/by-tile/{tile_id}", include_in_schema=False)
    def by_tile(tile_id: str) -> dict[str, Any]:
        return found(book.by_tile(tile_id))

    @app.get("/oracle/answers/{problem_id}", include_in_schema=False)
    def by_problem(problem_id: str) -> dict[str, Any]:
        return found(book.get(problem_id))


def create_app() -> FastAPI:
    """The real AI app (settings from the environment) with the answer oracle."""
    app = create_ai_app()
    book = AnswerBook()

    add_oracle_routes(app, book)

    app.add_middleware(RecordAnswers, book=book)
    return app
