"""How the backend reads the AI server's failures (review 4): only an unreachable server may fail open, within a
per-site budget and behind a circuit breaker; a refusal is a failed attempt; a bad answer fails closed; issuing
Phase B never fails open.

The failures are real: the backend's AI client talks over loopback HTTP to :class:`FaultyAi`, a socket server
that closes the connection, stalls past the timeout or answers a chosen status and body, or to a port where
nothing listens.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tcurity.sampling import Path2
from tcurity.traces import PerforationTask
from tests.backend.conftest import ORIGIN, Backend, human_answer
from tests.backend.test_phase_b_api import to_phase_b
from web.backend.app.sites import SitePolicy

FAIL_OPEN = SitePolicy(phase_b="never", fail_open=True)
FAIL_CLOSED = SitePolicy(phase_b="never")


class FaultyAi:
    """A loopback HTTP server that fails on purpose: ``mode`` is ``close`` (reads the request, closes without a
    byte), ``stall`` (reads it and answers nothing for ``stall_s``) or ``answer`` (``status`` with ``body``).
    ``connections`` counts the connections accepted."""

    def __init__(self) -> None:
        self.mode = "close"
        self.status = 200
        self.body = b"{}"
        self.stall_s = 2.0
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            if self.mode == "stall":
                self._stop.wait(self.stall_s)
            elif self.mode == "answer":
                conn.sendall(
                    b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
                    % (self.status, len(self.body), self.body)
                )

    def answer(self, status: int, body: bytes) -> None:
        self.mode, self.status, self.body = "answer", status, body

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.fixture
def faulty() -> Iterator[FaultyAi]:
    server = FaultyAi()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answer_tear(backend: Backend, path: Path2) -> tuple[str, dict]:  # type: ignore[type-arg]
    """A new session, a Phase A task, and a human tear sent as its answer: the session id and the response."""
    sid = backend.create()["session_id"]
    response = backend.answer_a(sid, human_answer(path, backend.issue_a(sid)))
    return sid, {"status": response.status_code, **response.json()}


def metric(backend: Backend, line_start: str) -> float:
    text = backend.client.get("/api/metrics").text
    found = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


# --- what counts as "unavailable" -------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["invalid_request", "wrong_task", "too_few_points"])
def test_a_422_from_the_ai_server_is_a_failed_attempt_never_a_pass(
    make_backend, faulty: FaultyAi, passing_paths: list[Path2], code: str
) -> None:
    backend: Backend = make_backend(sites={"main": FAIL_OPEN})
    backend.ai.via = faulty.url
    faulty.answer(422, b'{"error": {"code": "%s", "message": "refused"}}' % code.encode())
    sid, result = answer_tear(backend, passing_paths[0])
    assert (result["status"], result["error"]["code"]) == (422, code)
    assert result["error"]["details"]["attempts_left"] == {"phase": 2, "session": 4}
    session = backend.client.get(f"/api/v1/challenge/sessions/{sid}", headers={"Origin": ORIGIN})
    assert session.json()["state"] == "phase_a"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"not json"),
        (200, b"[1, 2]"),
        (200, b'{"score": "high", "passed": true}'),
        (500, b'{"error": {"code": "internal_error", "message": "x"}}'),
        (503, b'{"error": {"code": "overloaded", "message": "x"}}'),
        (422, b"no code"),
        (404, b"{}"),
    ],
)
def test_a_bad_answer_fails_closed_even_on_a_fail_open_site(
    make_backend, faulty: FaultyAi, passing_paths: list[Path2], status: int, body: bytes
) -> None:
    backend: Backend = make_backend(sites={"main": FAIL_OPEN})
    backend.ai.via = faulty.url
    faulty.answer(status, body)
    sid, result = answer_tear(backend, passing_paths[0])
    assert (result["status"], result["error"]["code"]) == (503, "ai_unavailable")
    backend.ai.via = None  # the AI server is back: the same answer, still open, now passes
    trace = human_answer(passing_paths[0], backend.issue_a(sid))
    assert backend.answer_a(sid, trace).json()["outcome"] == "passed"


@pytest.mark.parametrize("failure", ["close", "stall", "refused"])
def test_an_unreachable_ai_server_fails_open_only_where_the_site_says(
    make_backend, faulty: FaultyAi, passing_paths: list[Path2], failure: str
) -> None:
    for policy, expected in ((FAIL_OPEN, "passed"), (FAIL_CLOSED, "ai_unavailable")):
        backend: Backend = make_backend(sites={"main": policy}, ai_timeout_s=0.3)
        faulty.mode, faulty.stall_s = failure, 1.0
        backend.ai.via = f"http://127.0.0.1:{free_port()}" if failure == "refused" else faulty.url
        _, result = answer_tear(backend, passing_paths[0])
        assert result.get("outcome", result.get("error", {}).get("code")) == expected


# --- the circuit breaker ----------------------------------------------------------------------------------------
def test_the_circuit_opens_after_repeated_failures_then_probes_once(
    make_backend, faulty: FaultyAi, human_paths: list[Path2], passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(
        sites={"main": FAIL_CLOSED}, ai_breaker_failures=3, ai_breaker_open_s=30.0
    )
    breaker = backend.client.app.state.services.ai.breaker  # type: ignore[attr-defined]
    breaker.clock = backend.clock
    strokes = iter(
        [p for p in human_paths if all(p is not q for q in passing_paths)]
    )  # a new stroke each time
    backend.ai.via = faulty.url  # closes every connection
    codes = [answer_tear(backend, next(strokes))[1]["error"]["code"] for _ in range(6)]
    assert codes == ["ai_unavailable"] * 6
    assert faulty.connections == 3  # the outage was seen three times; the rest never left the backend
    assert metric(backend, "backend_ai_circuit_state") == 2.0
    assert metric(backend, 'backend_ai_short_circuited_total{call="phase_a"}') == 3.0
    backend.clock.advance(31.0)  # half-open: one probe goes out, fails, and the circuit opens again
    assert answer_tear(backend, next(strokes))[1]["error"]["code"] == "ai_unavailable"
    assert answer_tear(backend, next(strokes))[1]["error"]["code"] == "ai_unavailable"
    assert faulty.connections == 4
    backend.clock.advance(31.0)
    backend.ai.via = None  # the AI server is back: the probe reaches it and the circuit closes
    assert answer_tear(backend, passing_paths[0])[1]["outcome"] == "passed"
    assert answer_tear(backend, passing_paths[1])[1]["outcome"] == "passed"
    assert metric(backend, "backend_ai_circuit_state") == 0.0


# --- the unscored budget ----------------------------------------------------------------------------------------
def test_a_fail_open_site_passes_unscored_only_within_its_budget_across_replicas(
    make_backend, fresh_redis: str, passing_paths: list[Path2], tmp_path
) -> None:
    settings = {"redis_url": fresh_redis, "folder": tmp_path, "unscored_passes_per_site": 2}
    first: Backend = make_backend(sites={"main": FAIL_OPEN}, **settings)
    second: Backend = make_backend(sites={"main": FAIL_OPEN}, **settings)
    second.sites = first.sites  # one site, two replicas on one Redis
    first.ai.down = second.ai.down = True
    outcomes = [
        answer_tear(replica, path)[1]
        for replica, path in zip((first, second, first, second), passing_paths, strict=True)
    ]
    assert [o.get("outcome", o.get("error", {}).get("code")) for o in outcomes] == [
        "passed", "passed", "ai_unavailable", "ai_unavailable",
    ]  # fmt: skip
    assert metric(first, 'backend_unscored_total{result="over_budget"}') == 1.0
    assert metric(second, 'backend_unscored_total{result="passed"}') == 1.0


# --- Phase B ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["down", "malformed"])
def test_a_failing_ai_server_neither_stops_issuing_nor_opens_the_scoring_breaker(
    make_backend, faulty: FaultyAi, passing_paths: list[Path2], failure: str
) -> None:
    """Issuing takes problems made ahead, so an AI server that is down or answers garbage does not stop it (nor
    make it pass: tests/backend/test_phase_b_api.py, the empty pool). The filler's failed batches add nothing and
    count against the filler's own breaker, never the one scoring goes through (security review: a burst of
    problem generation opened the shared breaker and turned every answer into ai_unavailable)."""
    backend: Backend = make_backend(
        sites={"main": SitePolicy(phase_b="always", fail_open=True)}, ai_breaker_failures=2
    )
    ai = backend.client.app.state.services.ai  # type: ignore[attr-defined]
    filler = backend.client.app.state.services.filler  # type: ignore[attr-defined]
    sid = to_phase_b(backend, passing_paths[0])
    assert "problem" in backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b").json()
    depth = backend.pool_depth()
    if failure == "down":
        backend.ai.down = True
    else:
        backend.ai.via = faulty.url
        faulty.answer(200, b'{"problems": []}')
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017  (unreachable, or a batch that is not one)
            backend.client.portal.call(filler.fill_once)  # type: ignore[union-attr]
    assert backend.pool_depth() == depth
    assert ai.breaker.state == "closed"
    assert ai.problems_breaker.state == ("open" if failure == "down" else "closed")
    issued = backend.post(f"/api/v1/challenge/sessions/{sid}/phase-b").json()
    assert "problem" in issued and "token" not in issued


def test_a_client_out_of_passes_cannot_drain_the_unscored_budget(
    make_backend, passing_paths: list[Path2]
) -> None:
    """Review finding 12: the unscored budget was spent before the pass limit answered 429, and the task was
    reopened, so resending one answer drained the site's budget. The pass limit is now looked at first."""
    backend: Backend = make_backend(sites={"main": FAIL_OPEN}, passes_per_ip=1, unscored_passes_per_site=3)
    backend.ai.down = True
    client = backend.from_ip("198.51.100.5")
    sessions = "/api/v1/challenge/sessions"
    body = {"sitekey": backend.sites["main"].sitekey}
    first = client.post(sessions, json=body, headers={"Origin": ORIGIN}).json()["session_id"]
    second = client.post(sessions, json=body, headers={"Origin": ORIGIN}).json()["session_id"]
    answers = {}
    for sid, path in ((second, passing_paths[0]), (first, passing_paths[1])):
        task = client.post(f"{sessions}/{sid}/phase-a", headers={"Origin": ORIGIN}).json()["task"]
        answers[sid] = human_answer(path, PerforationTask.model_validate(task)).model_dump(mode="json")
    backend.clock.advance(5.0)
    passed = client.post(
        f"{sessions}/{second}/phase-a/answer", json={"trace": answers[second]}, headers={"Origin": ORIGIN}
    )
    assert passed.json()["outcome"] == "passed"  # unscored: one of the site's three
    resent = [
        client.post(
            f"{sessions}/{first}/phase-a/answer", json={"trace": answers[first]}, headers={"Origin": ORIGIN}
        )
        for _ in range(3)
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in resent] == [(429, "rate_limited")] * 3
    assert metric(backend, 'backend_unscored_total{result="passed"}') == 1.0
    others = []
    for address, path in (("203.0.113.1", passing_paths[2]), ("203.0.114.1", passing_paths[3])):
        other = backend.from_ip(address)
        sid = other.post(sessions, json=body, headers={"Origin": ORIGIN}).json()["session_id"]
        task = other.post(f"{sessions}/{sid}/phase-a", headers={"Origin": ORIGIN}).json()["task"]
        trace = human_answer(path, PerforationTask.model_validate(task)).model_dump(mode="json")
        backend.clock.advance(5.0)
        answer = other.post(
            f"{sessions}/{sid}/phase-a/answer", json={"trace": trace}, headers={"Origin": ORIGIN}
        )
        others.append(answer.json().get("outcome"))
    assert others == ["passed", "passed"]  # the site's budget is still there for everyone else
