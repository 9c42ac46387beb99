"""Sites and keys (the CLI and the registry), settings that refuse placeholder secrets, and pass tokens."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from tests.backend.conftest import PEPPER, SIGNING_KEY, backend_settings
from web.backend.app.cli import main as cli_main
from web.backend.app.core.config import get_settings
from web.backend.app.core.cors import HttpOrigins, origin_host
from web.backend.app.core.security import (
    PassClaims,
    TokenError,
    hash_secret,
    secret_matches,
    sign_pass_token,
    verify_pass_token,
)
from web.backend.app.sites import DEV_SECRET, DEV_SITEKEY, SiteRegistry, load_file


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AI_SERVER_TOKEN", "ai-token-0123456789abcdef")
    monkeypatch.setenv("TOKEN_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.setenv("SITE_SECRET_PEPPER", PEPPER)
    monkeypatch.setenv("SITES_FILE", str(tmp_path / "sites.json"))
    get_settings.cache_clear()
    yield tmp_path / "sites.json"
    get_settings.cache_clear()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    cli_main(list(args))
    return orjson.loads(capsys.readouterr().out)


def test_the_cli_adds_lists_rotates_and_removes_sites(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added = run_cli(
        capsys,
        "sites",
        "add",
        "--name",
        "Tickets",
        "--hostname",
        "Tickets.Example.com",
        "--collect",
        "--fail-open",
    )
    assert isinstance(added, dict)
    sitekey, secret = added["sitekey"], added["secret"]
    stored = cli_env.read_text()
    assert secret not in stored, "the secret is stored only as its hash"
    assert oct(cli_env.stat().st_mode & 0o777) == "0o600"
    site = load_file(cli_env).sites[0]
    assert site.hostnames == ["tickets.example.com"]
    assert (site.policy.collect, site.policy.fail_open, site.policy.phase_b) == (True, True, "always")
    assert site.secret_hash == hash_secret(secret, PEPPER)
    listed = run_cli(capsys, "sites", "list")
    assert isinstance(listed, list)
    assert listed[0]["sitekey"] == sitekey
    assert "secret_hash" not in json.dumps(listed)
    rotated = run_cli(capsys, "sites", "rotate-secret", sitekey)
    assert isinstance(rotated, dict)
    registry = SiteRegistry(cli_env, PEPPER, development=False, reload_interval_s=0)
    assert registry.by_secret(secret) is None
    assert registry.by_secret(rotated["secret"]) is not None
    run_cli(capsys, "sites", "remove", sitekey)
    assert load_file(cli_env).sites == []
    with pytest.raises(SystemExit):
        cli_main(["sites", "add", "--name", "x", "--hostname", "not a host"])


def test_there_is_no_implicit_site_outside_development(tmp_path: Path) -> None:
    production = SiteRegistry(tmp_path / "none.json", PEPPER, development=False)
    assert production.by_sitekey(DEV_SITEKEY) is None
    assert production.by_secret(DEV_SECRET) is None
    development = SiteRegistry(tmp_path / "none.json", PEPPER, development=True)
    dev = development.by_sitekey(DEV_SITEKEY)
    assert dev is not None and development.by_secret(DEV_SECRET) is dev
    assert dev.hostnames == ["127.0.0.1", "localhost"]


def test_the_registry_follows_the_file(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = SiteRegistry(cli_env, PEPPER, development=False, reload_interval_s=0)
    assert registry.all_sites() == []
    added = run_cli(capsys, "sites", "add", "--name", "A", "--hostname", "a.example.com")
    assert isinstance(added, dict)
    assert registry.by_sitekey(added["sitekey"]) is not None
    assert registry.allowed_hostnames() == {"a.example.com"}
    cli_env.write_text("{broken")
    assert registry.by_sitekey(added["sitekey"]) is not None, "a broken file keeps the sites loaded before"


def test_placeholder_and_short_secrets_are_refused_outside_development(tmp_path: Path) -> None:
    for field, value in (
        ("token_signing_key", "change-me"),
        ("site_secret_pepper", "short"),
        ("ai_server_token", "token"),
    ):
        with pytest.raises(ValidationError):
            backend_settings(tmp_path, **{field: value})
    with pytest.raises(ValidationError):
        backend_settings(tmp_path, site_secret_pepper=SIGNING_KEY)
    assert backend_settings(tmp_path, tcurity_env="development", token_signing_key="dev").development
    with pytest.raises(ValidationError):
        backend_settings(tmp_path, pass_token_ttl_s=300)


def claims(**overrides: object) -> PassClaims:
    values: dict[str, object] = {
        "jti": "j",
        "sitekey": "tk_site_0001",
        "hostname": "a.example.com",
        "action": "checkout",
        "session_id": "s" * 32,
        "issued_ms": 1_000,
        "expires_ms": 121_000,
        "scores": {"phase_a": [-0.4, -0.6]},
        "models": {"phase_a": "m@1"},
        "unscored": False,
        "reasons": ["wrong_answer"],
    }
    values.update(overrides)
    return PassClaims(**values)  # type: ignore[arg-type]


def test_pass_tokens_round_trip_and_resist_tampering() -> None:
    token = sign_pass_token(claims(), SIGNING_KEY)
    assert verify_pass_token(token, SIGNING_KEY) == claims()
    with pytest.raises(TokenError):
        verify_pass_token(token, SIGNING_KEY + "x")
    version, payload, signature = token.split(".")
    other = sign_pass_token(claims(action="admin"), SIGNING_KEY).split(".")[1]
    for forged in (
        f"{version}.{other}.{signature}",
        f"v2.{payload}.{signature}",
        f"{version}.{payload}",
        "",
        "a.b.c",
    ):
        with pytest.raises(TokenError):
            verify_pass_token(forged, SIGNING_KEY)


def test_secrets_compare_against_their_keyed_hash() -> None:
    stored = hash_secret("ts_abc", PEPPER)
    assert stored.startswith("hmac-sha256:")
    assert secret_matches("ts_abc", stored, PEPPER)
    assert not secret_matches("ts_abd", stored, PEPPER)
    assert not secret_matches("ts_abc", stored, PEPPER + "x")


@pytest.mark.parametrize(
    ("origin", "http_origins", "host"),
    [
        ("https://Tickets.Example.com", "none", "tickets.example.com"),
        ("https://tickets.example.com:8443", "none", "tickets.example.com"),
        ("http://tickets.example.com", "none", None),
        ("http://tickets.example.com", "loopback", None),
        ("http://tickets.example.com", "any", "tickets.example.com"),
        ("http://localhost:5173", "none", None),
        ("http://127.0.0.1:8080", "none", None),
        ("http://localhost:5173", "loopback", "localhost"),
        ("http://127.0.0.1:8080", "loopback", "127.0.0.1"),
        ("null", "none", None),
        ("https://user@tickets.example.com", "none", None),
        ("https://tickets.example.com/path", "none", None),
        ("https://tickets.example.com:99999", "none", None),
        (None, "none", None),
    ],
)
def test_origins_are_parsed_strictly(origin: str | None, http_origins: HttpOrigins, host: str | None) -> None:
    assert origin_host(origin, http_origins) == host
