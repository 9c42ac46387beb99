"""One placeholder rule for both services' secrets (tcurity.web.placeholder_secrets)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.settings import Settings as AiSettings
from tcurity.web.placeholder_secrets import PLACEHOLDER_SECRETS, is_weak_secret
from web.backend.app.core.config import Settings as BackendSettings

REAL = "k" * 40
PEPPER = "p" * 40


@pytest.mark.parametrize(
    ("value", "min_chars", "weak"),
    [
        ("change-me", 4, True),
        ("Dev-Secret", 4, True),
        ("TOKEN", 1, True),
        ("short", 16, True),
        ("x" * 16, 16, False),
    ],
)
def test_is_weak_secret(value: str, min_chars: int, weak: bool) -> None:
    assert is_weak_secret(value, min_chars) is weak


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDER_SECRETS))
def test_both_services_refuse_every_placeholder_outside_development(placeholder: str) -> None:
    with pytest.raises(ValidationError):
        AiSettings(ai_server_token=placeholder, tcurity_env="production")
    with pytest.raises(ValidationError):
        BackendSettings(
            ai_server_token=placeholder,
            token_signing_key=REAL,
            site_secret_pepper=PEPPER,
            tcurity_env="production",
        )


def test_development_takes_a_placeholder() -> None:
    assert AiSettings(ai_server_token="dev-token", tcurity_env="development").ai_server_token
