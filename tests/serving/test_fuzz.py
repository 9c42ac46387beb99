"""Bounded property-based fuzzing of the AI server's OpenAPI schema: no input yields a 5xx.

503 is the documented answer when a model is not loaded (Phase B here), so only other 5xx count as failures.
Every operation gets a fixed number of derandomised examples, with and without the service token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from serving.app import create_app
from tests.serving.conftest import AUTH
from tests.serving.conftest import settings as app_settings

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def fuzz_app(champion: str) -> Iterator[FastAPI]:
    app = create_app(app_settings())
    with TestClient(app):  # runs the lifespan: the champion is loaded
        yield app


def test_no_server_errors_for_any_schema_input(fuzz_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        def call(case: schemathesis.Case) -> None:
            for headers in (AUTH, {}):
                response = case.call(headers=headers)
                statuses.append(response.status_code)
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append(
                        f"{case.method} {case.path}: {response.status_code} {response.text[:200]}"
                    )

        call()
    assert failures == []
    # The fuzzer reached the handlers, not only the auth gate and the validator.
    assert len(statuses) >= 2 * EXAMPLES_PER_OPERATION
    assert {200, 401, 422} <= set(statuses)
