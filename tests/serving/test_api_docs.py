"""The AI server's API docs are served only where the environment allows (``API_DOCS`` overrides)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.serving.conftest import settings

DOCS = ("/docs", "/openapi.json", "/redoc")


@pytest.mark.parametrize(
    ("overrides", "served"),
    [
        ({"tcurity_env": "production"}, set()),
        ({"tcurity_env": "local"}, set()),
        ({"tcurity_env": "test"}, {"/docs", "/openapi.json"}),
        ({"tcurity_env": "production", "api_docs": True}, {"/docs", "/openapi.json"}),
        ({"tcurity_env": "test", "api_docs": False}, set()),
    ],
)
def test_api_docs_follow_the_setting(overrides: dict[str, object], served: set[str]) -> None:
    client = TestClient(create_app(settings(**overrides)))  # no lifespan: routes only, no model loaded
    assert {path for path in DOCS if client.get(path).status_code == 200} == served
