"""Bounded property-based fuzzing of the AI server's OpenAPI schema: no input yields a 5xx.

503 is the documented answer when a model is not loaded (Phase B here), so only other 5xx count as failures.
Every operation gets a fixed number of derandomised examples (:mod:`tests.fuzz`), with and without the service
token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.fuzz import fuzz_schema
from tests.serving.conftest import AUTH
from tests.serving.conftest import settings as app_settings

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def fuzz_app(champion: str) -> Iterator[FastAPI]:
    app = create_app(app_settings())
    with TestClient(app):  # runs the lifespan: the champion is loaded
        yield app


def send(case: schemathesis.Case) -> list[tuple[int, str | None]]:
    seen: list[tuple[int, str | None]] = []
    for headers in (AUTH, {}):
        response = case.call(headers=headers)
        status = response.status_code
        failed = status >= 500 and status != 503
        seen.append((status, f"{status} {response.text[:200]}" if failed else None))
    return seen


def test_no_server_errors_for_any_schema_input(fuzz_app: FastAPI) -> None:
    run = fuzz_schema(fuzz_app, "/openapi.json", EXAMPLES_PER_OPERATION, send)
    assert run.failures == []
    # The fuzzer reached the handlers, not only the auth gate and the validator.
    assert sum(run.statuses.values()) >= 2 * EXAMPLES_PER_OPERATION
    assert {200, 401, 422} <= set(run.statuses)
