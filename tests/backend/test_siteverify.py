"""siteverify: one verification per token, the right refusal code for every bad token, brute force limited."""

from __future__ import annotations

from datetime import datetime

from tcurity.sampling import Path2
from tests.backend.conftest import HOST, Backend, human_answer
from web.backend.app.core.security import sign_pass_token, verify_pass_token
from web.backend.app.sites import SitePolicy

URL = "/api/v1/siteverify"
EMPTY = {
    "challenge_ts": None,
    "hostname": None,
    "action": None,
    "score": None,
    "scores": {},
    "reasons": [],
    "models": {},
    "unscored": False,
}


def pass_token(backend: Backend, path: Path2, site: str = "main", action: str = "checkout") -> str:
    sid = backend.create(site=site, action=action)["session_id"]
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(path, task)).json()
    assert result["outcome"] == "passed"
    return str(result["token"])


def test_a_genuine_token_verifies_once_with_everything_the_site_needs(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0])
    response = backend.siteverify(token, expected_action="checkout")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["error-codes"] == []
    assert (body["hostname"], body["action"], body["unscored"]) == (HOST, "checkout", False)
    assert body["models"] == {"phase_a": "tcurity-phase-a-iforest@1"}
    assert set(body["scores"]) == {"phase_a"}
    assert body["score"] == body["scores"]["phase_a"]["score"] >= body["scores"]["phase_a"]["threshold"]
    assert datetime.fromisoformat(body["challenge_ts"]).tzinfo is not None
    replay = backend.siteverify(token).json()
    assert replay["success"] is False
    assert replay["error-codes"] == ["timeout-or-duplicate"]


def test_json_bodies_are_accepted_too(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0])
    body = backend.client.post(URL, json={"secret": backend.sites["main"].secret, "response": token}).json()
    assert body["success"] is True


def test_missing_and_wrong_inputs_get_their_codes(make_backend) -> None:
    backend: Backend = make_backend()
    secret = backend.sites["main"].secret
    cases = [
        ({}, "missing-input-secret"),
        ({"response": "x"}, "missing-input-secret"),
        ({"secret": "ts_wrong", "response": "x"}, "invalid-input-secret"),
        ({"secret": secret}, "missing-input-response"),
        ({"secret": secret, "response": "garbage"}, "invalid-input-response"),
        ({"secret": secret, "response": "v1.e30.AAAA"}, "invalid-input-response"),
    ]
    for form, code in cases:
        response = backend.client.post(URL, data=form)
        assert response.status_code == 200
        assert response.json() == {"success": False, "error-codes": [code], **EMPTY}, form
    malformed = backend.client.post(URL, content=b"[1,2]", headers={"Content-Type": "application/json"})
    assert malformed.json()["error-codes"] == ["bad-request"]


def test_forged_tokens_are_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0])
    key = backend.settings.token_signing_key.get_secret_value()
    claims = verify_pass_token(token, key)
    forged_other_key = sign_pass_token(claims, "another-key-of-enough-length-0123456789")
    version, payload, signature = token.split(".")
    tampered_payload = (
        f"{version}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    for forged in (forged_other_key, tampered_payload, f"{version}.{payload}.", token + "x"):
        assert backend.siteverify(forged).json()["error-codes"] == ["invalid-input-response"]
    assert backend.siteverify(token).json()["success"] is True


def test_a_token_of_another_site_is_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never"), "other": SitePolicy(phase_b="never")}
    )
    token = pass_token(backend, passing_paths[0], site="other")
    assert backend.siteverify(token, site="main").json()["error-codes"] == ["sitekey-mismatch"]
    named = backend.siteverify(token, site="other", sitekey=backend.sites["main"].sitekey).json()
    assert named["error-codes"] == ["sitekey-mismatch"]
    assert backend.siteverify(token, site="other").json()["success"] is True


def test_the_expected_action_must_match(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0], action="login")
    body = backend.siteverify(token, expected_action="checkout").json()
    assert body["success"] is False
    assert body["error-codes"] == ["action-mismatch"]
    assert body["action"] == "login"


def test_expired_tokens_are_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0])
    backend.clock.advance(121)
    assert backend.siteverify(token).json()["error-codes"] == ["timeout-or-duplicate"]


def test_an_idempotent_retry_gets_the_same_answer(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = pass_token(backend, passing_paths[0])
    first = backend.siteverify(token, idempotency_key="order-1").json()
    retry = backend.siteverify(token, idempotency_key="order-1").json()
    assert first["success"] is True
    assert retry == first
    assert backend.siteverify(token, idempotency_key="order-2").json()["error-codes"] == [
        "timeout-or-duplicate"
    ]
    other = pass_token(backend, passing_paths[1])
    assert backend.siteverify(other, idempotency_key="order-1").json()["error-codes"] == ["bad-request"]


def test_secret_brute_force_is_rate_limited_per_ip(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(secret_failures_per_ip=5)
    token = pass_token(backend, passing_paths[0])
    for i in range(5):
        wrong = backend.client.post(URL, data={"secret": f"ts_guess_{i}", "response": token})
        assert wrong.json()["error-codes"] == ["invalid-input-secret"]
    limited = backend.client.post(URL, data={"secret": "ts_guess_6", "response": token})
    assert limited.status_code == 429
    assert limited.json()["error-codes"] == ["rate-limited"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    right_secret_too = backend.siteverify(token)
    assert right_secret_too.status_code == 429, "a limited IP gets no oracle, not even for the right secret"


def test_a_rotated_secret_works_within_its_grace_time(make_backend, passing_paths: list[Path2]) -> None:
    from web.backend.app.cli import sites_rotate

    backend: Backend = make_backend()
    old = backend.sites["main"].secret
    new = sites_rotate(backend.settings, backend.sites["main"].sitekey, grace_s=3600)["secret"]
    token = pass_token(backend, passing_paths[0])
    assert backend.client.post(URL, data={"secret": old, "response": token}).json()["success"] is True
    sites_rotate(backend.settings, backend.sites["main"].sitekey, grace_s=0)
    token = pass_token(backend, passing_paths[1])
    assert backend.client.post(URL, data={"secret": new, "response": token}).json()["error-codes"] == [
        "invalid-input-secret"
    ]
