"""The score endpoints' hot path: the body parsed by pydantic-core straight from its bytes, the answer
serialised by pydantic straight to bytes.

FastAPI's own body handling decodes the JSON with the standard library, validates the Python objects, then
validates and encodes the returned model again; for a trace of a few dozen events that cost as much as the
HTTP stack itself. Here a body is validated once, from bytes. A body that fails goes through FastAPI's steps
(:func:`fastapi_errors`), so every refusal keeps exactly the error FastAPI gave: the same codes, locations
and messages, and a trace check's own code.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from serving.decisions import Decision
from tcurity.web.ai_api import ScoreRequest, ScoreResponse

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
    body = await request.body()
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
    typed = ScoreResponse.model_validate(decision, from_attributes=True)
    return Response(typed.model_dump_json().encode(), media_type="application/json")


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
