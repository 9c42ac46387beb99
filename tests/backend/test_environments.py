"""What each ``TCURITY_ENV`` allows: API docs, ``http://`` origins, the built-in dev site (and the local stack's
mode, read from ``scripts/up.sh``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.backend.conftest import PEPPER, SIGNING_KEY
from web.backend.app.cli import sites_add
from web.backend.app.core.config import Settings
from web.backend.app.main import create_app
from web.backend.app.sites import DEV_SECRET, SitePolicy
from web.backend.openapi import openapi_text

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = "/api/v1/challenge/sessions"
DOCS = ("/api/docs", "/api/openapi.json")


def settings(tmp_path: Path, env: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "tcurity_env": env,
        "ai_server_url": "http://127.0.0.1:9",
        "ai_server_token": "ai-token-0123456789abcdef",
        "token_signing_key": SIGNING_KEY,
        "site_secret_pepper": PEPPER,
        "sites_file": tmp_path / "sites.json",
        "sites_reload_interval_s": 0.0,
    }
    return Settings(**(values | overrides))


def client_for(settings: Settings) -> tuple[TestClient, str]:
    """An app with one site served from loopback (as the demo shop is registered by ``scripts/up.sh``)."""
    site = sites_add(settings, "T-Tickets demo", ["127.0.0.1", "localhost"], SitePolicy(phase_b="never"))
    return TestClient(create_app(settings), raise_server_exceptions=False), site["sitekey"]


def local_stack_env() -> str:
    """The ``TCURITY_ENV`` that ``scripts/up.sh`` runs the services with."""
    found = re.findall(r"^export TCURITY_ENV=(\w+)\b", (ROOT / "scripts" / "up.sh").read_text(), re.M)
    assert len(found) == 1, "scripts/up.sh sets TCURITY_ENV once"
    return str(found[0])


@pytest.mark.parametrize(("env", "served"), [("production", False), ("local", False), ("test", True)])
def test_api_docs_are_served_only_where_the_environment_allows(
    tmp_path: Path, env: str, served: bool
) -> None:
    client, _ = client_for(settings(tmp_path, env))
    for path in DOCS:
        assert client.get(path).status_code == (200 if served else 404), path


def test_the_api_docs_setting_overrides_the_default(tmp_path: Path) -> None:
    client, _ = client_for(settings(tmp_path, "production", api_docs=True))
    assert all(client.get(path).status_code == 200 for path in DOCS)
    client, _ = client_for(settings(tmp_path / "dev", "development", api_docs=False))
    assert all(client.get(path).status_code == 404 for path in DOCS)


def test_the_sdk_document_is_built_without_http() -> None:
    document = openapi_text()
    assert '"/api/v1/siteverify"' in document
    assert '"ErrorResponse"' in document


@pytest.mark.parametrize(
    ("env", "origin", "allowed"),
    [
        ("production", "https://127.0.0.1", True),
        ("production", "http://127.0.0.1:8080", False),
        ("production", "http://localhost:5173", False),
        ("local", "http://127.0.0.1:8080", True),
        ("local", "http://localhost:8080", True),
        ("test", "http://127.0.0.1:8080", True),
        ("development", "http://localhost", True),
    ],
)
def test_http_origins_follow_the_environment(tmp_path: Path, env: str, origin: str, allowed: bool) -> None:
    client, sitekey = client_for(settings(tmp_path, env))
    created = client.post(SESSIONS, json={"sitekey": sitekey}, headers={"Origin": origin})
    preflight = client.options(SESSIONS, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    if allowed:
        assert created.status_code == 201, created.text
        assert preflight.status_code == 204
    else:
        assert (created.status_code, created.json()["error"]["code"]) == (403, "origin_not_allowed")
        assert (preflight.status_code, preflight.json()["error"]["code"]) == (403, "origin_not_allowed")


def test_a_local_http_origin_must_still_be_loopback(tmp_path: Path) -> None:
    local = settings(tmp_path, "local")
    sitekey = sites_add(local, "Tickets", ["tickets.example.com"], SitePolicy())["sitekey"]
    client = TestClient(create_app(local), raise_server_exceptions=False)
    refused = client.post(
        SESSIONS, json={"sitekey": sitekey}, headers={"Origin": "http://tickets.example.com"}
    )
    assert refused.json()["error"]["code"] == "origin_not_allowed"


def test_the_local_stack_runs_without_the_dev_site(tmp_path: Path) -> None:
    # The review's check against the mode the local stack runs in: the built-in dev secret is unknown there.
    client, sitekey = client_for(settings(tmp_path, local_stack_env()))
    verdict = client.post("/api/v1/siteverify", data={"secret": DEV_SECRET, "response": "x"}).json()
    assert verdict["success"] is False
    assert verdict["error-codes"] == ["invalid-input-secret"]
    local_origin = {"Origin": "http://127.0.0.1:8080"}
    dev_session = client.post(SESSIONS, json={"sitekey": "dev-sitekey"}, headers=local_origin)
    assert dev_session.json()["error"]["code"] == "invalid_sitekey"
    # ... while the demo shop, registered as a real site, is served from loopback over http.
    created = client.post(SESSIONS, json={"sitekey": sitekey}, headers=local_origin)
    assert created.status_code == 201


def test_the_local_stack_refuses_placeholder_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        settings(tmp_path, local_stack_env(), token_signing_key="dev")
