"""siteverify: one verification per token, the right refusal code for every bad token, brute force limited."""

from __future__ import annotations

import hashlib
from datetime import datetime

from fastapi.testclient import TestClient

from tcurity.sampling import Path2
from tcurity.traces import PerforationTask
from tests.backend.conftest import HOST, ORIGIN, Backend, Clock, human_answer
from web.backend.app.core.security import new_id, pass_token
from web.backend.app.sites import SitePolicy
from web.backend.app.store.memory import MemoryStore

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
    "client_match": None,
    "client_mismatch": [],
}


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def sibling(text: str) -> str:
    """Another spelling of the same bytes: the last character's unused low bits set (lenient decoders agree)."""
    index = B64URL.index(text[-1])
    assert index % 4 == 0, "a canonical 32-byte base64url string leaves the last 2 bits zero"
    return text[:-1] + B64URL[index + 1]


def earn_token(backend: Backend, path: Path2, site: str = "main", action: str = "checkout") -> str:
    sid = backend.create(site=site, action=action)["session_id"]
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(path, task)).json()
    assert result["outcome"] == "passed"
    return str(result["token"])


def test_a_genuine_token_verifies_once_with_everything_the_site_needs(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0])
    response = backend.siteverify(token, expected_action="checkout")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["error-codes"] == []
    assert (body["hostname"], body["action"], body["unscored"]) == (HOST, "checkout", False)
    assert body["models"] == {"phase_a": "tcurity-phase-a-iforest@1", "integrity": "tcurity-integrity@2"}
    assert set(body["scores"]) == {"phase_a"}
    assert body["score"] == body["scores"]["phase_a"]["score"] >= body["scores"]["phase_a"]["threshold"]
    assert datetime.fromisoformat(body["challenge_ts"]).tzinfo is not None
    replay = backend.siteverify(token).json()
    assert replay["success"] is False
    assert replay["error-codes"] == ["timeout-or-duplicate"]


def test_json_bodies_are_accepted_too(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0])
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
    token = earn_token(backend, passing_paths[0])
    version, jti, tag = token.split(".")
    forged_other_key = pass_token(jti, "another-key-of-enough-length-0123456789")
    other_id = f"{version}.{new_id()}.{tag}"
    tampered_id = f"{version}.{jti[:-2]}{'A' if jti[-2] != 'A' else 'B'}{jti[-1]}.{tag}"
    lenient_spellings = (f"{version}.{jti}.{sibling(tag)}", f"{version}.{jti}.{tag[:9]}!!!!{tag[9:]}")
    for forged in (
        forged_other_key,
        other_id,
        tampered_id,
        *lenient_spellings,
        f"{version}.{jti}.",
        token + "x",
    ):
        assert backend.siteverify(forged).json()["error-codes"] == ["invalid-input-response"], forged
    assert backend.siteverify(token).json()["success"] is True


def test_a_genuine_handle_without_claims_is_refused_as_expired(make_backend) -> None:
    backend: Backend = make_backend()
    minted = pass_token(new_id(), backend.settings.token_signing_key.get_secret_value())
    assert backend.siteverify(minted).json() == {
        "success": False,
        "error-codes": ["timeout-or-duplicate"],
        **EMPTY,
    }


def test_a_token_of_another_site_is_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never"), "other": SitePolicy(phase_b="never")}
    )
    token = earn_token(backend, passing_paths[0], site="other")
    assert backend.siteverify(token, site="main").json()["error-codes"] == ["sitekey-mismatch"]
    named = backend.siteverify(token, site="other", sitekey=backend.sites["main"].sitekey).json()
    assert named["error-codes"] == ["sitekey-mismatch"]
    assert backend.siteverify(token, site="other").json()["success"] is True


def test_the_expected_action_must_match(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0], action="login")
    body = backend.siteverify(token, expected_action="checkout").json()
    assert body["success"] is False
    assert body["error-codes"] == ["action-mismatch"]
    assert body["action"] == "login"


def test_expired_tokens_are_refused(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0])
    backend.clock.advance(121)
    assert backend.siteverify(token).json()["error-codes"] == ["timeout-or-duplicate"]


def test_an_idempotent_retry_gets_the_same_answer(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0])
    first = backend.siteverify(token, idempotency_key="order-1").json()
    retry = backend.siteverify(token, idempotency_key="order-1").json()
    assert first["success"] is True
    assert retry == first
    assert backend.siteverify(token, idempotency_key="order-2").json()["error-codes"] == [
        "timeout-or-duplicate"
    ]
    other = earn_token(backend, passing_paths[1])
    assert backend.siteverify(other, idempotency_key="order-1").json()["error-codes"] == ["bad-request"]


def test_secret_brute_force_is_rate_limited_per_ip(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(secret_failures_per_ip=5)
    token = earn_token(backend, passing_paths[0])
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
    token = earn_token(backend, passing_paths[0])
    assert backend.client.post(URL, data={"secret": old, "response": token}).json()["success"] is True
    sites_rotate(backend.settings, backend.sites["main"].sitekey, grace_s=0)
    token = earn_token(backend, passing_paths[1])
    assert backend.client.post(URL, data={"secret": new, "response": token}).json()["error-codes"] == [
        "invalid-input-secret"
    ]


def test_an_idempotent_retry_stops_working_when_the_token_expires(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend()
    token = earn_token(backend, passing_paths[0])
    assert backend.siteverify(token, idempotency_key="k").json()["success"] is True
    backend.clock.advance(3000)
    for extra in ({}, {"expected_action": "x"}):
        late = backend.siteverify(token, idempotency_key="k", **extra).json()
        assert late["success"] is False, extra
        assert late["error-codes"] == ["timeout-or-duplicate"]


def test_an_idempotent_retry_is_rechecked_against_its_own_action_and_sitekey(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never"), "other": SitePolicy(phase_b="never")}
    )
    token = earn_token(backend, passing_paths[0])
    first = backend.siteverify(token, idempotency_key="k", expected_action="checkout").json()
    assert first["success"] is True
    other_action = backend.siteverify(token, idempotency_key="k", expected_action="x").json()
    assert (other_action["success"], other_action["error-codes"]) == (False, ["action-mismatch"])
    other_sitekey = backend.siteverify(token, idempotency_key="k", sitekey=backend.sites["other"].sitekey)
    assert other_sitekey.json()["error-codes"] == ["sitekey-mismatch"]
    other_secret = backend.siteverify(token, site="other", idempotency_key="k").json()
    assert other_secret["error-codes"] == ["sitekey-mismatch"]
    assert backend.siteverify(token, idempotency_key="k", expected_action="checkout").json() == first


def test_the_kept_answer_lives_no_longer_than_the_token(make_backend, passing_paths: list[Path2]) -> None:
    clock = Clock()
    backend: Backend = make_backend(store=MemoryStore(clock))
    backend.clock = clock
    backend.client.app.state.services.flow.clock = clock  # type: ignore[attr-defined]
    backend.client.app.state.services.verifier.clock = clock  # type: ignore[attr-defined]
    token = earn_token(backend, passing_paths[0])
    assert backend.siteverify(token, idempotency_key="k").json()["success"] is True
    store = backend.client.app.state.services.store  # type: ignore[attr-defined]
    clock.advance(121 + 6)  # the token's 120 s and the retry slack (5 s) are over, by every clock
    scope = f"idem:{backend.sites['main'].sitekey}:{hashlib.sha256(b'k').hexdigest()[:32]}"
    assert backend.client.portal.call(store.get_result, scope) is None  # type: ignore[union-attr]


def test_a_replica_whose_clock_runs_behind_cannot_accept_a_token_twice(
    make_backend, passing_paths: list[Path2]
) -> None:
    store_clock = Clock()  # the shared store's clock; the verifying replica's clock lags 30 s behind it
    backend: Backend = make_backend(store=MemoryStore(store_clock))
    token = earn_token(backend, passing_paths[0])
    assert backend.siteverify(token).json()["success"] is True
    store_clock.advance(115 + 30)  # by the store's clock the token expired 25 s ago; the replica sees 115 s
    backend.clock.advance(115)
    again = backend.siteverify(token).json()
    assert again["error-codes"] == ["timeout-or-duplicate"], "the consume marker outlives the token"


def solve_from(
    backend: Backend, path: Path2, user_agent: str, answer_from: TestClient | None = None, answer_ua: str = ""
) -> str:
    """A pass token: the session created and the task issued by ``backend.client`` with ``user_agent``; answered
    by ``answer_from`` (the same client by default) with ``answer_ua`` (the same user agent by default)."""
    headers = {"Origin": ORIGIN, "User-Agent": user_agent}
    created = backend.client.post(
        "/api/v1/challenge/sessions", json={"sitekey": backend.sites["main"].sitekey}, headers=headers
    )
    sid = created.json()["session_id"]
    base = f"/api/v1/challenge/sessions/{sid}"
    task = PerforationTask.model_validate(
        backend.client.post(f"{base}/phase-a", headers=headers).json()["task"]
    )
    trace = human_answer(path, task)
    backend.clock.advance((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
    result = (
        (answer_from or backend.client)
        .post(
            f"{base}/phase-a/answer",
            json={"trace": trace.model_dump(mode="json")},
            headers={"Origin": ORIGIN, "User-Agent": answer_ua or user_agent},
        )
        .json()
    )
    assert result["outcome"] == "passed", result
    return str(result["token"])


UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"


def test_the_solving_client_is_bound_and_compared_when_the_site_sends_it(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(peer="203.0.113.77")
    token = solve_from(backend, passing_paths[0], UA)
    claims = backend.claims(token)
    assert claims is not None
    assert claims.client_net == "203.0.113.0/24"
    assert claims.user_agent is not None and UA not in claims.user_agent, "a keyed digest, not the UA"
    same = backend.siteverify(token, idempotency_key="n1", remoteip="203.0.113.9", user_agent=UA).json()
    assert (same["success"], same["client_match"], same["client_mismatch"]) == (True, True, [])
    relay = backend.siteverify(
        token, idempotency_key="n1", remoteip="198.51.100.7", user_agent="curl/8"
    ).json()
    assert relay["success"] is True, "reported, not refused: the site did not opt in"
    assert (relay["client_match"], relay["client_mismatch"]) == (False, ["ip", "user_agent"])
    other = solve_from(backend, passing_paths[1], UA)
    unchecked = backend.siteverify(other).json()
    assert (unchecked["success"], unchecked["client_match"]) == (True, None)


def test_ipv6_clients_are_bound_to_their_64(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(peer="2001:db8:1:2:aaaa::5")
    token = solve_from(backend, passing_paths[0], UA)
    near = backend.siteverify(token, idempotency_key="n", remoteip="2001:db8:1:2:ffff::1").json()
    assert near["client_match"] is True
    far = backend.siteverify(token, idempotency_key="n", remoteip="2001:db8:1:3::1").json()
    assert far["client_mismatch"] == ["ip"]


def test_a_site_that_requires_the_solving_client_refuses_a_relayed_token(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never", require_client_match=True)}, peer="203.0.113.77"
    )
    relayed = backend.siteverify(solve_from(backend, passing_paths[0], UA), remoteip="198.51.100.7").json()
    assert (relayed["success"], relayed["error-codes"]) == (False, ["client-mismatch"])
    assert relayed["client_mismatch"] == ["ip"]
    no_ip = backend.siteverify(solve_from(backend, passing_paths[1], UA)).json()
    assert no_ip["error-codes"] == ["client-mismatch"], "an opted-in site must send remoteip"
    other_ua = backend.siteverify(
        solve_from(backend, passing_paths[2], UA), remoteip="203.0.113.1", user_agent="python-httpx/0.28"
    ).json()
    assert (other_ua["error-codes"], other_ua["client_mismatch"]) == (["client-mismatch"], ["user_agent"])
    own = backend.siteverify(solve_from(backend, passing_paths[3], UA), remoteip="203.0.113.1").json()
    assert (own["success"], own["client_match"]) == (True, True)


def test_a_session_finished_from_another_client_is_not_bound_to_the_last_one(
    make_backend, passing_paths: list[Path2]
) -> None:
    """Review finding 5: the binding is the client that created the session. A farm that solves from its own
    network and relays only the final answer from the buyer's gets a token that says so, and a site that
    requires the solving client refuses it (the old code bound the token to whoever answered last)."""
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="never", require_client_match=True)}, peer="203.0.113.77"
    )
    buyer = backend.from_ip("198.51.100.7")  # the final answer comes from the buyer's network
    relayed = solve_from(backend, passing_paths[0], UA, answer_from=buyer)
    claims = backend.claims(relayed)
    assert claims is not None
    assert (claims.client_net, claims.client_moved) == ("203.0.113.0/24", ["ip"])
    # The site sees the buyer's address, which is the network that answered: still refused.
    verdict = backend.siteverify(relayed, remoteip="198.51.100.7", user_agent=UA).json()
    assert (verdict["success"], verdict["error-codes"]) == (False, ["client-mismatch"])
    assert (verdict["client_match"], verdict["client_mismatch"]) == (False, ["ip"])
    other_ua = solve_from(backend, passing_paths[1], UA, answer_ua="python-httpx/0.28")
    refused = backend.siteverify(other_ua, remoteip="203.0.113.1", user_agent="python-httpx/0.28").json()
    assert (refused["error-codes"], refused["client_mismatch"]) == (["client-mismatch"], ["user_agent"])
    own = backend.siteverify(solve_from(backend, passing_paths[2], UA), remoteip="203.0.113.1").json()
    assert (own["success"], own["client_match"]) == (True, True)


def test_a_moved_session_is_reported_even_when_the_site_sends_no_client(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(peer="203.0.113.77")
    token = solve_from(backend, passing_paths[0], UA, answer_from=backend.from_ip("198.51.100.7"))
    body = backend.siteverify(token).json()
    assert (body["success"], body["client_match"], body["client_mismatch"]) == (True, False, ["ip"])


def test_a_user_agent_longer_than_512_characters_is_compared_by_its_first_512(
    make_backend, passing_paths: list[Path2]
) -> None:
    """Review finding 10: the solving side keeps 512 characters of the header; a site forwarding the whole
    header got ``bad-request`` (siteverify took at most 512). It now takes up to 8 KiB and compares the prefix."""
    backend: Backend = make_backend(peer="203.0.113.77")
    long_ua = UA + " " + "x" * 600  # 641 characters, as some browsers with extensions send
    token = solve_from(backend, passing_paths[0], long_ua)
    body = backend.siteverify(token, idempotency_key="n", remoteip="203.0.113.9", user_agent=long_ua).json()
    assert (body["success"], body["error-codes"], body["client_match"]) == (True, [], True)
    other = long_ua[:512] + "y" * 100  # differs only past the compared prefix: the same client
    same = backend.siteverify(token, idempotency_key="n", remoteip="203.0.113.9", user_agent=other).json()
    assert same["client_match"] is True
    too_long = backend.siteverify(token, idempotency_key="n", user_agent="z" * 8193).json()
    assert too_long["error-codes"] == ["bad-request"]
