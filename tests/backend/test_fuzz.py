"""Bounded property-based fuzzing of the backend's OpenAPI schema (:mod:`tests.fuzz`): no input yields a 5xx,
and every error answer is in the documented shape with a documented code.

The backend runs in process against the real AI server app (small Phase A champion) and the Phase B contract
double, with its rate limits lifted so the fuzzer reaches the handlers. Half the cases that name a session get
a live one, with a Phase A task issued, so answers are checked against a real open task; half the bodies that
carry a sitekey or a site secret carry the site's real one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from tcurity.images.bank import ImageBank
from tcurity.traces import TRACE_CODES
from tests.backend.conftest import HOST, ORIGIN, AiTransport, backend_settings
from tests.fuzz import fuzz_schema
from tests.phase_b_double import phase_b_double
from web.backend.app.cli import sites_add
from web.backend.app.core.codes import ERROR_CODES, SITEVERIFY_ERROR_CODES
from web.backend.app.core.config import CLIENT_LIMIT_VARIABLES
from web.backend.app.main import create_app
from web.backend.app.sites import SitePolicy

logger = logging.getLogger(__name__)

EXAMPLES_PER_OPERATION = 200
METRICS_TOKEN = "metrics-token-0123456789abcdef"
SESSIONS = "/api/v1/challenge/sessions"
SITEVERIFY = "/api/v1/siteverify"
# Readiness answers 503 with its own body while a part is not ready (here: no Phase B champion in tests).
READY = "/api/ready"


class Fuzzer:
    """The backend under fuzzing, with the one client (schemathesis' in-process ASGI client) every call uses."""

    def __init__(self, app: FastAPI, client: asgi.ASGIClient, sitekey: str, secret: str) -> None:
        self.app, self.client, self.sitekey, self.secret = app, client, sitekey, secret
        self.turn = count()

    def live_session(self) -> str:
        """A new session of the site with its Phase A task issued."""
        created = self.client.post(SESSIONS, json={"sitekey": self.sitekey}, headers={"Origin": ORIGIN})
        sid = str(created.json()["session_id"])
        assert self.client.post(f"{SESSIONS}/{sid}/phase-a", headers={"Origin": ORIGIN}).status_code == 200
        return sid

    def send(self, case: schemathesis.Case) -> list[tuple[int, str | None]]:
        real = next(self.turn) % 2 == 0
        headers = {"Origin": ORIGIN}
        if real and case.path_parameters and "session_id" in case.path_parameters:
            case.path_parameters["session_id"] = self.live_session()
        if real and isinstance(case.body, dict) and "secret" in case.body:
            case.body["secret"] = self.secret
        if real and isinstance(case.body, dict) and "sitekey" in case.body:
            case.body["sitekey"] = self.sitekey
        if real and case.path.endswith("/metrics"):
            headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
        response = case.call(session=self.client, headers=headers)
        return [(response.status_code, problem(case.path, response.status_code, response.text, response))]


def problem(path: str, status: int, text: str, response: Any) -> str | None:
    """Why an answer breaks the contract (``None`` when it keeps it)."""
    if path == READY and status == 503:
        return None if response.json().get("ready") is False else f"503 without readiness: {text[:200]}"
    if status >= 500:
        return f"{status} {text[:300]}"
    if status < 400 and not (path == SITEVERIFY and status == 200):
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{status} is not JSON: {text[:200]}"
    if path == SITEVERIFY and isinstance(body, dict) and {"success", "error-codes"} <= set(body):
        unknown = set(body["error-codes"]) - set(SITEVERIFY_ERROR_CODES)
        return f"{status} undocumented siteverify codes {sorted(unknown)}" if unknown else None
    return api_error_problem(status, body, text)


def api_error_problem(status: int, body: Any, text: str) -> str | None:
    """Why an error body is not ``{"error": {"code", "message", "details"}}`` with a documented code."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(body) != {"error"} or set(error) != {"code", "message", "details"}:
        return f"{status} is not the ApiError shape: {text[:200]}"
    if error["code"] not in ERROR_CODES and error["code"] not in TRACE_CODES:
        return f"{status} undocumented code {error['code']!r}"
    return None


@pytest.fixture
def fuzzer(tmp_path: Path, ai_app: FastAPI, tile_bank: ImageBank) -> Iterator[Fuzzer]:
    unlimited = 10**9
    settings = backend_settings(
        tmp_path,
        **{name.lower(): unlimited for name in CLIENT_LIMIT_VARIABLES},
        rate_limit_per_sitekey=unlimited,
        secret_failures_per_ip=unlimited,
        metrics_token=METRICS_TOKEN,
    )
    site = sites_add(settings, "main", [HOST], SitePolicy(phase_b="always", collect=True))
    app = create_app(settings, ai_transport=AiTransport(ai_app, phase_b_double(tile_bank)))
    with asgi.get_client(app) as client:
        yield Fuzzer(app, client, site["sitekey"], site["secret"])


def test_no_server_errors_and_only_documented_errors_for_any_schema_input(fuzzer: Fuzzer) -> None:
    run = fuzz_schema(fuzzer.app, "/api/openapi.json", EXAMPLES_PER_OPERATION, fuzzer.send)
    assert run.failures == []
    with_inputs = [label for label in run.cases if "{" in label or label.startswith("POST")]
    assert all(run.cases[label] >= EXAMPLES_PER_OPERATION for label in with_inputs), run.cases
    # The fuzzer reached the handlers, not only the validator.
    assert {200, 201, 404, 409, 422} <= set(run.statuses), run.statuses
    logger.info("fuzzed cases per operation %s, statuses %s", dict(run.cases), dict(run.statuses))
