"""The settings both services share: the environment and the API docs switch."""

from __future__ import annotations

import pytest

from serving.settings import Settings as AiSettings
from tcurity.web.service_settings import ServiceSettings
from web.backend.app.core.config import Settings as BackendSettings


@pytest.mark.parametrize(
    ("env", "api_docs", "served"),
    [
        ("production", None, False),
        ("local", None, False),
        ("test", None, True),
        ("development", None, True),
        ("production", True, True),
        ("development", False, False),
    ],
)
def test_docs_are_served_in_development_and_test_unless_api_docs_says(
    env: str, api_docs: bool | None, served: bool
) -> None:
    assert ServiceSettings(tcurity_env=env, api_docs=api_docs).serves_api_docs is served


def test_both_services_read_the_switch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCURITY_ENV", "production")
    monkeypatch.setenv("API_DOCS", "true")
    monkeypatch.setenv("AI_SERVER_TOKEN", "a-real-token-of-32-characters-xx")
    monkeypatch.setenv("TOKEN_SIGNING_KEY", "a-real-signing-key-of-32-characters")
    monkeypatch.setenv("SITE_SECRET_PEPPER", "a-real-pepper-of-32-characters-xxx")
    for settings in (AiSettings(), BackendSettings()):
        assert settings.tcurity_env == "production"
        assert settings.serves_api_docs is True
