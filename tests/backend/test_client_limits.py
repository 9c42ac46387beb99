"""Client IPs and the limits keyed on them (review 5): ``X-Forwarded-For`` only from trusted proxies, sessions and
passes per IP and per network, and a per-site cap that no single client can drain.

Each test runs the real app; a client's address is the peer the app sees (``Backend.from_ip``), or, behind a
trusted proxy, the hop that proxy appended to ``X-Forwarded-For``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from tcurity.sampling import Path2
from tcurity.traces import PerforationTask
from tests.backend.conftest import ORIGIN, Backend, backend_settings, human_answer
from web.backend.app.api.deps import client_ip
from web.backend.app.core.security import client_key, client_network, key_binding_network, limit_network
from web.backend.app.sites import SitePolicy

SESSIONS = "/api/v1/challenge/sessions"


def request_from(peer: str, *forwarded: str) -> Request:
    """A bare request from ``peer`` carrying each of ``forwarded`` as one ``X-Forwarded-For`` header."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


def create(client: TestClient, backend: Backend, forwarded: str | None = None) -> httpx.Response:
    headers = {"Origin": ORIGIN} | ({"X-Forwarded-For": forwarded} if forwarded else {})
    return client.post(SESSIONS, json={"sitekey": backend.sites["main"].sitekey}, headers=headers)


# --- which address is the client ------------------------------------------------------------------------------
def test_a_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    settings = backend_settings(tmp_path, trusted_proxies="10.0.0.5")
    assert client_ip(request_from("203.0.113.9", "198.51.100.1"), settings) == "203.0.113.9"
    assert client_ip(request_from("10.0.0.6", "198.51.100.1"), settings) == "10.0.0.6"
    no_proxies = backend_settings(tmp_path)  # the default: nobody's header is believed
    assert client_ip(request_from("10.0.0.5", "198.51.100.1"), no_proxies) == "10.0.0.5"


def test_a_trusted_proxy_names_the_client_by_the_right_most_untrusted_hop(tmp_path: Path) -> None:
    settings = backend_settings(tmp_path, trusted_proxies="10.0.0.5, 172.16.0.0/12, fd00::/8")
    # The client wrote "1.2.3.4"; the edge proxy (172.16.0.2) appended what it saw; the last proxy is the peer.
    assert (
        client_ip(request_from("10.0.0.5", "1.2.3.4, 198.51.100.7, 172.16.0.2"), settings) == "198.51.100.7"
    )
    assert client_ip(request_from("10.0.0.5", "1.2.3.4", "198.51.100.7"), settings) == "198.51.100.7"
    assert client_ip(request_from("fd00::1", "2001:db8::1"), settings) == "2001:db8::1"
    assert client_ip(request_from("10.0.0.5", "::ffff:198.51.100.7"), settings) == "198.51.100.7"
    # Only proxies in the header (or none at all): the peer.
    assert client_ip(request_from("10.0.0.5", "172.16.0.3"), settings) == "10.0.0.5"
    assert client_ip(request_from("10.0.0.5"), settings) == "10.0.0.5"


def test_a_forwarded_hop_with_a_port_is_its_address_and_a_garbled_one_its_own_key(tmp_path: Path) -> None:
    """Review finding 11: a hop with a port or brackets fell back to the proxy (every such client in one
    bucket). Ports and brackets are dropped; a hop still no address is keyed as itself, namespaced."""
    settings = backend_settings(tmp_path, trusted_proxies="10.0.0.5, 172.16.0.0/12")
    forwarded = {
        "198.51.100.7:4711": "198.51.100.7",
        "[2001:db8::1]:443": "2001:db8::1",
        "[2001:db8::2]": "2001:db8::2",
        "1.2.3.4, not-an-ip": "hop:not-an-ip",
        "unknown, 172.16.0.2:80": "hop:unknown",  # a trusted proxy with a port is still a trusted proxy
        "x" * 100: "hop:" + "x" * 64,
    }
    assert {hop: client_ip(request_from("10.0.0.5", hop), settings) for hop in forwarded} == forwarded


def test_a_spoofed_forwarded_for_does_not_escape_the_per_ip_limit(make_backend) -> None:
    """The review's sketch: a client straight on the backend's port, a new X-Forwarded-For on each request."""
    backend: Backend = make_backend(peer="127.0.0.1", trusted_proxies="127.0.0.1", rate_limit_per_ip=3)
    direct = backend.from_ip("203.0.113.9")
    codes = [create(direct, backend, f"198.51.100.{i}").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]


def test_through_a_trusted_proxy_each_client_has_its_own_limit(make_backend) -> None:
    backend: Backend = make_backend(peer="127.0.0.1", trusted_proxies="127.0.0.1", rate_limit_per_ip=2)
    proxy = backend.client
    codes = [create(proxy, backend, "198.51.100.1").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert create(proxy, backend, "203.0.113.1").status_code == 201
    assert create(proxy, backend, "evil, 203.0.113.1").status_code == 201  # the client's own hops don't count


# --- per-network limits -----------------------------------------------------------------------------------------
def test_256_addresses_of_one_ipv4_network_hit_its_session_limit(make_backend) -> None:
    backend: Backend = make_backend()
    codes = [create(backend.from_ip(f"198.51.100.{i}"), backend).status_code for i in range(256)]
    limit = backend.settings.sessions_per_network
    assert limit == 200
    assert codes == [201] * limit + [429] * (256 - limit)
    assert (
        create(backend.from_ip("198.51.101.1"), backend).status_code == 201
    )  # the next /24 is another network


def test_an_ipv6_client_is_its_64_and_its_network_its_48(make_backend) -> None:
    """Review finding 3: one IPv6 host may use any address of its /64, so the per-IP limits key on the /64 and
    the per-network ones on the /48 (the old code keyed "IP" on the /128 and the network on the /64)."""
    backend: Backend = make_backend(sessions_per_ip=2, sessions_per_network=3)
    same_64 = [create(backend.from_ip(f"2001:db8:0:1::{i:x}"), backend).status_code for i in range(1, 4)]
    assert same_64 == [201, 201, 429]  # three addresses of one /64 share one per-IP bucket
    # Other /64s of the same /48: one more session for the /48 (3 in all), then the network is spent.
    other_64s = [create(backend.from_ip(f"2001:db8:0:{i:x}::1"), backend).status_code for i in range(2, 4)]
    assert other_64s == [201, 429]
    assert create(backend.from_ip("2001:db8:1:1::1"), backend).status_code == 201  # the next /48


def test_client_keys_and_networks_of_addresses() -> None:
    assert [client_key(ip) for ip in ("198.51.100.7", "::ffff:198.51.100.7", "2001:db8:0:1:aa::1", "x")] == [
        "198.51.100.7",
        "198.51.100.7",
        "2001:db8:0:1::/64",
        "x",
    ]
    assert [limit_network(client_key(ip)) for ip in ("198.51.100.7", "2001:db8:0:1:aa::1", "x")] == [
        "198.51.100.0/24",
        "2001:db8::/48",
        "x",
    ]
    # The token binds to the same /24 and /64 as siteverify's remoteip gives.
    for ip in ("198.51.100.7", "2001:db8:0:1:aa::1"):
        assert key_binding_network(client_key(ip)) == client_network(ip)
    assert key_binding_network("x") is None
    assert client_network("2001:db8:0:1:aa::1") == "2001:db8:0:1::/64"


def test_sessions_are_limited_per_ip(make_backend) -> None:
    backend: Backend = make_backend(sessions_per_ip=2)
    codes = [create(backend.client, backend).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    refused = create(backend.client, backend).json()["error"]
    assert (refused["code"], refused["message"].split(";")[0]) == ("rate_limited", "too many sessions")


# --- the site's cap -------------------------------------------------------------------------------------------
def test_one_client_cannot_drain_the_site_cap(make_backend) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", requests_per_window=100)})
    scalper = backend.from_ip("198.51.100.66")
    served = 0
    for _ in range(150):
        if create(scalper, backend).status_code != 201:
            break
        served += 1
    assert served == 100 // 20  # one IP gets 1/20 of the cap per window
    neighbours = [create(backend.from_ip(f"198.51.100.{i}"), backend).status_code for i in range(100, 130)]
    assert neighbours.count(201) == 100 // 4 - served  # its whole /24 gets 1/4 of the cap
    others = [create(backend.from_ip(f"203.0.{i}.1"), backend).status_code for i in range(20)]
    assert others == [201] * 20  # everyone else is still served


# --- passes -----------------------------------------------------------------------------------------------------
def pass_phase_a(backend: Backend, client: TestClient, path: Path2) -> httpx.Response:
    sid = create(client, backend).json()["session_id"]
    return answer_a(backend, client, sid, path)


def answer_a(backend: Backend, client: TestClient, sid: str, path: Path2) -> httpx.Response:
    """Issues a Phase A task in session ``sid`` and answers it with the human stroke ``path``."""
    base = f"{SESSIONS}/{sid}"
    task = client.post(f"{base}/phase-a", headers={"Origin": ORIGIN}).json()["task"]
    trace = human_answer(path, PerforationTask.model_validate(task))
    backend.clock.advance((trace.points.t_ms[-1] - trace.points.t_ms[0]) / 1000.0 + 0.05)
    body = {"trace": trace.model_dump(mode="json")}
    return client.post(f"{base}/phase-a/answer", json=body, headers={"Origin": ORIGIN})


def test_passes_are_limited_per_ip(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(passes_per_ip=1)
    client = backend.from_ip("198.51.100.5")
    assert pass_phase_a(backend, client, passing_paths[0]).json()["outcome"] == "passed"
    refused = create(client, backend)  # its passes are spent: no new session this window
    assert (refused.status_code, refused.json()["error"]["message"].split(";")[0]) == (429, "too many passes")
    neighbour = backend.from_ip("198.51.100.6")  # another address of the network still passes
    assert pass_phase_a(backend, neighbour, passing_paths[1]).json()["outcome"] == "passed"


@pytest.mark.parametrize("limit", ["passes_per_ip", "passes_per_network"])
def test_a_pass_over_the_limit_gives_no_token(make_backend, passing_paths: list[Path2], limit: str) -> None:
    backend: Backend = make_backend(**{limit: 1})
    client = backend.from_ip("198.51.100.5")
    first = create(client, backend).json()["session_id"]  # opened while a pass was still left
    assert pass_phase_a(backend, client, passing_paths[0]).json()["outcome"] == "passed"
    refused = answer_a(backend, client, first, passing_paths[1])
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= backend.settings.rate_limit_window_s
    assert "token" not in refused.text
    state = client.get(f"{SESSIONS}/{first}", headers={"Origin": ORIGIN}).json()
    assert state["state"] == "phase_a"  # no pass; the task is open again


# --- Phase B problems -------------------------------------------------------------------------------------------
def test_phase_b_problems_are_limited_per_ip_and_per_network(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="always")}, problems_per_ip=1, problems_per_network=2
    )
    backend.fill_pool()  # what the background filler does
    issued: list[int] = []
    for i, address in enumerate(("198.51.100.1", "198.51.100.2", "198.51.100.3")):
        client = backend.from_ip(address)
        sid = create(client, backend).json()["session_id"]
        assert answer_a(backend, client, sid, passing_paths[i]).json()["outcome"] == "next_phase"
        for _ in range(2):
            issued.append(client.post(f"{SESSIONS}/{sid}/phase-b", headers={"Origin": ORIGIN}).status_code)
    # One problem per address, two per network: the second address's second ask and all of the third's fail.
    assert issued == [200, 429, 200, 429, 429, 429]
    elsewhere = backend.from_ip("203.0.113.1")
    sid = create(elsewhere, backend).json()["session_id"]
    assert answer_a(backend, elsewhere, sid, passing_paths[3]).json()["outcome"] == "next_phase"
    assert elsewhere.post(f"{SESSIONS}/{sid}/phase-b", headers={"Origin": ORIGIN}).status_code == 200
