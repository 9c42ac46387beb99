"""The SDK's API types are generated from the backend's OpenAPI: the stored document must be the backend's."""

from __future__ import annotations

import json

from tcurity.config import PROJECT_ROOT
from web.backend.openapi import openapi_text

SNAPSHOT = PROJECT_ROOT / "web/sdk/openapi.json"


def test_the_sdk_was_generated_from_the_current_backend_api() -> None:
    stored = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = json.loads(openapi_text())
    assert stored == current, (
        "the backend's API changed: run `make sdk-api`, then adapt web/sdk/src/client.ts"
    )


def test_the_sdk_covers_every_challenge_path() -> None:
    client = (PROJECT_ROOT / "web/sdk/src/client.ts").read_text(encoding="utf-8")
    paths = json.loads(openapi_text())["paths"]
    challenge = [
        p
        for p in paths
        if p.startswith("/api/v1/challenge/") and p != "/api/v1/challenge/sessions/{session_id}"
    ]
    for path in challenge:
        tail = path.removeprefix("/api/v1/challenge/sessions").removeprefix("/{session_id}")
        assert tail == "" or tail in client, f"client.ts does not call {path}"
