"""Sites and keys (the CLI and the registry), settings that refuse placeholder secrets, and pass tokens."""

from __future__ import annotations

import base64
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
    client_network,
    hash_secret,
    new_id,
    pass_token,
    pass_token_jti,
    secret_matches,
    user_agent_digest,
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


def test_the_client_binding_policy_is_a_cli_option_and_old_files_keep_working(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = run_cli(
        capsys, "sites", "add", "--name", "S", "--hostname", "s.example.com", "--require-client-match"
    )
    plain = run_cli(capsys, "sites", "add", "--name", "P", "--hostname", "p.example.com")
    assert isinstance(strict, dict) and isinstance(plain, dict)
    policies = {s.sitekey: s.policy.require_client_match for s in load_file(cli_env).sites}
    assert policies == {strict["sitekey"]: True, plain["sitekey"]: False}
    content = json.loads(cli_env.read_text())
    for site in content["sites"]:
        site["policy"].pop("require_client_match")  # a file written before the option existed
    cli_env.write_text(json.dumps(content))
    assert [s.policy.require_client_match for s in load_file(cli_env).sites] == [False, False]


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
        "jti": new_id(),
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
        "client_net": "203.0.113.0/24",
        "user_agent": user_agent_digest("Mozilla/5.0", SIGNING_KEY),
    }
    values.update(overrides)
    return PassClaims(**values)  # type: ignore[arg-type]


def test_claims_round_trip_through_their_stored_form() -> None:
    kept = claims()
    assert PassClaims.from_json(kept.to_json()) == kept
    with pytest.raises(ValueError):
        PassClaims.from_json(b'{"j": "x"}')


def test_pass_tokens_are_opaque_handles_that_resist_tampering() -> None:
    jti = new_id()
    token = pass_token(jti, SIGNING_KEY)
    assert pass_token_jti(token, SIGNING_KEY) == jti
    assert len(token) < 100
    with pytest.raises(TokenError):
        pass_token_jti(token, SIGNING_KEY + "x")
    version, _, tag = token.split(".")
    for forged in (
        f"{version}.{new_id()}.{tag}",
        f"v1.{jti}.{tag}",
        f"{version}.{jti}",
        f"{version}.{'A' * 8}.{pass_token('A' * 8, SIGNING_KEY).split('.')[2]}",  # a short id
        "",
        "a.b.c",
    ):
        with pytest.raises(TokenError):
            pass_token_jti(forged, SIGNING_KEY)


def test_token_parts_must_be_canonical_base64url() -> None:
    jti = new_id()
    token = pass_token(jti, SIGNING_KEY)
    version, _, tag = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = tag[:-1] + alphabet[alphabet.index(tag[-1]) + 1]  # the unused low bits set
    plus_slash = tag.replace("-", "+").replace("_", "/")
    junk = (f"{tag[:5]}!!!!{tag[5:]}", f"{tag[:5]}\n\n\n\n{tag[5:]}")
    for spelling in (same_bytes, *junk, f"{tag}=", plus_slash):
        if spelling == tag:
            continue
        assert base64.urlsafe_b64decode(spelling + "=" * (-len(spelling) % 4)) == base64.urlsafe_b64decode(
            tag + "="
        ), "a lenient decoder reads the same bytes"
        with pytest.raises(TokenError):
            pass_token_jti(f"{version}.{jti}.{spelling}", SIGNING_KEY)


def test_client_networks_are_the_24_or_the_64() -> None:
    assert client_network("203.0.113.77") == "203.0.113.0/24"
    assert client_network("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert client_network("2001:db8:1:2:aaaa::5") == "2001:db8:1:2::/64"
    for not_an_ip in ("testclient", "unknown", "", "203.0.113.0/24"):
        assert client_network(not_an_ip) is None
    assert user_agent_digest("a", SIGNING_KEY) != user_agent_digest("a", SIGNING_KEY + "x")


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
