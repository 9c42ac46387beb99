"""The score endpoints' hot path: the body parsed by pydantic-core straight from its bytes, the answer
serialised by pydantic straight to bytes.

FastAPI's own body handling decodes the JSON with the standard library, validates the Python objects, then
validates and encodes the returned model again; for a trace of a few dozen events that cost as much as the
HTTP stack itself. Here a body is validated once, from bytes. A body that fails goes through FastAPI's steps
(:func:`fastapi_errors`), so every refusal keeps exactly the error FastAPI gave: the same codes, locations
and messages, and a trace check's own code.

A score endpoint is served by a :class:`ScoreRoute` added to the app itself (:func:`add_score_route`), ahead
of the included routers (walking them costs more than the trivial endpoint's whole routing): FastAPI matches it first and calls it with the request, without solving dependencies
or serialising a return value, work a route that reads its own body and encodes its own answer does not need
(together about as much CPU as the trivial endpoint's whole request). It is documented like any other route.
In front of it, :class:`ScoreLane` answers the requests it would answer with a 200 without FastAPI's routing
and request machinery at all, and hands it every other one, body included, so each refusal stays the route's.
"""

from __future__ import annotations

import hmac
import inspect
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.decisions import Decision
from serving.schemas import ERROR_RESPONSES
from tcurity.web.ai_api import ScoreRequest, ScoreResponse

ScoreEndpoint = Callable[[Request], Coroutine[Any, Any, Response]]

# The request body as the OpenAPI document shows it (the routes read it themselves, so FastAPI cannot see it).
SCORE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}},
    }
}


async def read_score_request(request: Request) -> ScoreRequest:
    """The request's body as a validated :class:`ScoreRequest`.

    Raises:
        RequestValidationError: the errors FastAPI would have raised for this body.
    """
    return parse_score_request(await request.body())


def parse_score_request(body: bytes) -> ScoreRequest:
    """A body's bytes as a validated :class:`ScoreRequest` (the part of reading a request that is not HTTP).

    Raises:
        RequestValidationError: the errors FastAPI would have raised for this body.
    """
    try:
        return ScoreRequest.model_validate_json(body)
    except ValidationError:
        pass
    errors, parsed = fastapi_errors(body)
    if parsed is not None:  # JSON that only the standard library reads (a byte-order mark, say): as before
        return parsed
    raise RequestValidationError(errors)


def fastapi_errors(body: bytes) -> tuple[list[dict[str, Any]], ScoreRequest | None]:
    """What FastAPI made of a body for a ``ScoreRequest`` parameter: its errors, or the request when the
    standard library's JSON decoder reads what pydantic-core's refused.

    FastAPI reads an empty body as a missing one, decodes the rest with :func:`json.loads` (a failure is
    ``json_invalid`` at the character it stopped at, any other a 400) and validates the objects, errors located
    under ``body``.

    Raises:
        HTTPException: 400 when the decoder fails otherwise (nesting too deep for it, say), as FastAPI does.
    """
    if not body:
        return [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}], None
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        return [{**error, "ctx": {"error": exc.msg}}], None
    except Exception as exc:  # FastAPI's own rule: any other decoder failure is a 400
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    try:
        return [], ScoreRequest.model_validate(data, from_attributes=True)  # FastAPI validates bodies so
    except ValidationError as exc:
        return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()], None


def score_response(decision: Decision) -> Response:
    """The decision as the documented :class:`ScoreResponse`, encoded by pydantic in one step."""
    return Response(score_bytes(decision), media_type="application/json")


def score_bytes(decision: Decision) -> bytes:
    """The decision's :class:`ScoreResponse` body."""
    return ScoreResponse.model_validate(decision, from_attributes=True).model_dump_json().encode()


class ScoreRoute(APIRoute):
    """An :class:`APIRoute` whose endpoint takes the :class:`Request` and returns a finished :class:`Response`.

    FastAPI still matches, documents and guards it (the app's exception handlers answer whatever it raises);
    only its request handler is the endpoint itself, so no dependency is solved and no return value
    validated or encoded.
    """

    def get_route_handler(self) -> ScoreEndpoint:
        """The endpoint, called with the request as it is."""
        if not inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(f"{self.path}: a score endpoint is a coroutine function of the request")
        endpoint: ScoreEndpoint = self.endpoint
        return endpoint


def add_score_route(app: FastAPI, path: str, endpoint: ScoreEndpoint, tags: list[str]) -> APIRoute:
    """Serves ``endpoint`` at ``POST path`` as a :class:`ScoreRoute` of the app itself, documented with the
    :class:`ScoreRequest` body, the :class:`ScoreResponse` answer and the error responses.

    Called before the routers are included, so FastAPI tries the route before them (only FastAPI's own docs
    routes, where they are served, come first). Returns the route."""
    app.router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        response_model=ScoreResponse,
        responses=ERROR_RESPONSES,
        openapi_extra=SCORE_REQUEST_BODY,
        tags=list(tags),
        route_class_override=ScoreRoute,
    )
    route = app.router.routes[-1]
    assert isinstance(route, ScoreRoute)
    return route


class ScoreLane:
    """Pure ASGI middleware that answers a score request bound for a 200 without FastAPI's routing, request
    objects and exception machinery; every other request, and every refusal, is the app's.

    Added innermost (inside the body limit and the request metrics, which keep their work on every request). For
    ``POST path`` with the service token, it reads the body and calls ``serve(state, body)``: the answer's bytes,
    or ``None`` where the route must answer (a body that fails validation, a wrong task, no model). It hands the
    request to the app, with the body it read played back, whenever it does not answer itself, so each refusal is
    exactly the route's; without the token it hands it on before reading the body (the token comes first).
    ``scope["route"]`` is set to the route, so the metrics label is the route's either way.
    """

    def __init__(
        self,
        app: ASGIApp,
        path: str,
        route: APIRoute,
        state: State,
        serve: Callable[[State, bytes], bytes | None],
    ) -> None:
        self.app = app
        self.path = path
        self.route = route
        self.state = state
        self.serve = serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not token_ok(scope["headers"], self.state.settings.ai_server_token.get_secret_value()):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        answer = None
        if message["type"] == "http.request":
            answer = self.serve(self.state, b"".join(m.get("body", b"") for m in messages))
        if answer is None:
            await self.app(scope, played_back(messages, receive), send)
            return
        scope["route"] = self.route
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def token_ok(headers: list[tuple[bytes, bytes]], secret: str) -> bool:
    """Whether the raw headers hold ``Authorization: Bearer <secret>`` (constant time, as
    :func:`serving.auth.check_token`; a request with several is left to the route)."""
    given = [value for name, value in headers if name.lower() == b"authorization"]
    return len(given) == 1 and hmac.compare_digest(given[0], f"Bearer {secret}".encode())


def played_back(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` again, in order, then what ``receive`` gives."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def scoring_clock() -> float:
    """The event loop thread's CPU seconds: scoring runs on it, so the difference of two readings around the
    scoring is what the scoring cost, whatever else the process does meanwhile."""
    return time.thread_time()


def document_raw_bodies(app: FastAPI, models: tuple[type[BaseModel], ...] = (ScoreRequest,)) -> None:
    """Adds the schemas of bodies routes read themselves (:data:`SCORE_REQUEST_BODY`) to the app's OpenAPI
    components, where FastAPI would have put them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            own = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(own.pop("$defs", {}))
            components[model.__name__] = own
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
