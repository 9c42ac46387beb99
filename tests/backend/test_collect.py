"""Learning from traffic: opt-in collection, the sites' labels as the only ground truth, export and cleanup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from tcurity.datasets import read_traces
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_a_trace
from tcurity.traces import make_trace
from tests.backend.conftest import Backend, Clock, human_answer
from web.backend.app.cli import main as cli_main
from web.backend.app.cli import traces_cleanup
from web.backend.app.services.collect import export_site
from web.backend.app.sites import SitePolicy, load_file
from web.backend.app.store import MemoryStore

URL = "/api/v1/report"
COLLECT = SitePolicy(phase_b="never", collect=True, retention_days=7)


def passed_session(backend: Backend, path: Path2) -> tuple[str, str]:
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(path, task)).json()
    assert result["outcome"] == "passed"
    return sid, result["token"]


def failed_session(backend: Backend) -> str:
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    bot = make_trace(phase_a_trace(task, "teleport", np.random.default_rng(0)), task)
    assert backend.answer_a(sid, bot).json()["outcome"] == "retry"
    return str(sid)


def stored(backend: Backend):
    store = backend.client.app.state.services.store  # type: ignore[attr-defined]
    return asyncio.run(store.traces(backend.sites["main"].sitekey))


def test_only_collecting_sites_keep_traces(make_backend, passing_paths: list[Path2]) -> None:
    quiet: Backend = make_backend()
    passed_session(quiet, passing_paths[0])
    assert stored(quiet) == []
    collecting: Backend = make_backend(sites={"main": COLLECT})
    passed_session(collecting, passing_paths[0])
    failed_session(collecting)
    traces = stored(collecting)
    assert len(traces) == 2
    assert all(t.label is None for t in traces)
    assert all(6.9 * 86400 < t.expires_s - collecting.clock() < 7.1 * 86400 for t in traces)


def test_reports_label_sessions_by_token_or_id(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT})
    secret = backend.sites["main"].secret
    _, token = passed_session(backend, passing_paths[0])
    failed = failed_session(backend)
    backend.clock.advance(3600)  # reports come late: an expired token still names its session
    by_token = backend.client.post(URL, json={"secret": secret, "response": token, "label": "chargeback"})
    assert by_token.status_code == 200
    assert by_token.json() == {"labelled": 1, "label": "chargeback"}
    by_id = backend.client.post(
        URL, data={"secret": secret, "session_id": failed, "label": "confirmed_human"}
    )
    assert by_id.json() == {"labelled": 1, "label": "confirmed_human"}
    assert sorted(t.label for t in stored(backend)) == ["chargeback", "confirmed_human"]


def test_report_errors_have_their_codes(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT, "quiet": SitePolicy(phase_b="never")})
    secret = backend.sites["main"].secret
    _, token = passed_session(backend, passing_paths[0])
    cases = [
        ({"secret": "ts_wrong", "response": token, "label": "confirmed_bot"}, 401, "invalid_secret"),
        (
            {"secret": secret, "response": token[:-3] + "AAA", "label": "confirmed_bot"},
            422,
            "invalid_response",
        ),
        ({"secret": secret, "session_id": "x" * 32, "label": "confirmed_bot"}, 404, "session_not_found"),
        ({"secret": secret, "response": token, "label": "probably_bot"}, 422, "invalid_request"),
        ({"secret": secret, "label": "confirmed_bot"}, 422, "invalid_request"),
        (
            {"secret": backend.sites["quiet"].secret, "session_id": "x" * 32, "label": "confirmed_bot"},
            409,
            "collection_disabled",
        ),
        (
            {"secret": backend.sites["quiet"].secret, "response": token, "label": "confirmed_bot"},
            422,
            "invalid_response",
        ),
    ]
    for body, status, code in cases:
        response = backend.client.post(URL, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body


def test_export_writes_labelled_traces_with_the_sites_label_as_source(
    make_backend, passing_paths: list[Path2], tmp_path: Path
) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT})
    secret = backend.sites["main"].secret
    bot_sid, _ = passed_session(backend, passing_paths[0])  # the model passed it; the site knows better
    human_sid = failed_session(backend)  # the model failed it; the site knows better
    passed_session(backend, passing_paths[1])  # never labelled: never exported
    for sid, label in ((bot_sid, "confirmed_bot"), (human_sid, "confirmed_human")):
        assert (
            backend.client.post(URL, json={"secret": secret, "session_id": sid, "label": label}).status_code
            == 200
        )
    site = load_file(backend.settings.sites_file).sites[0]
    store = backend.client.app.state.services.store  # type: ignore[attr-defined]
    result = asyncio.run(export_site(store, site, tmp_path / "collected"))
    path = tmp_path / "collected" / site.sitekey / "phase_a.parquet"
    assert result.files == {str(path): 2}
    records = {r.source: r for r in read_traces(path)}
    assert set(records) == {"bot", "human"}
    assert records["bot"].family == "confirmed_bot"
    assert records["human"].family == "human"
    assert {r.split for r in records.values()} == {"collected"}
    assert records["bot"].task.kind == "perforation"


def test_cleanup_deletes_expired_traces_and_stale_exports(
    tmp_path: Path, monkeypatch, passing_paths: list[Path2], make_backend
) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    backend: Backend = make_backend(sites={"main": COLLECT}, store=store)
    sid, _ = passed_session(backend, passing_paths[0])
    backend.client.post(
        URL, json={"secret": backend.sites["main"].secret, "session_id": sid, "label": "confirmed_bot"}
    )
    clock.advance(8 * 86400)
    assert stored(backend) == []
    result = asyncio.run(store.purge_expired())
    assert result == 1
    stale = tmp_path / "collected" / "tk_removed_site" / "phase_a.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    for name, value in {
        "AI_SERVER_TOKEN": backend.settings.ai_server_token.get_secret_value(),
        "TOKEN_SIGNING_KEY": backend.settings.token_signing_key.get_secret_value(),
        "SITE_SECRET_PEPPER": backend.settings.site_secret_pepper.get_secret_value(),
        "SITES_FILE": str(backend.settings.sites_file),
        "TCURITY_ENV": "test",
    }.items():
        monkeypatch.setenv(name, value)
    from web.backend.app.core.config import get_settings

    get_settings.cache_clear()
    try:
        summary = asyncio.run(traces_cleanup(get_settings(), tmp_path / "collected"))
        cli_main(
            ["traces", "export", "--out", str(tmp_path / "collected")]
        )  # memory store: nothing to export
    finally:
        get_settings.cache_clear()
    assert summary == {"traces_purged": 0, "export_files_removed": 1}
    assert not stale.exists()


def test_a_collecting_sites_token_names_its_session_for_the_retention_only(
    make_backend, passing_paths: list[Path2]
) -> None:
    clock = Clock()  # one clock for the flow and the store: the claims' TTL really runs out
    backend: Backend = make_backend(sites={"main": COLLECT}, store=MemoryStore(clock))
    for service in ("flow", "verifier"):
        getattr(backend.client.app.state.services, service).clock = clock  # type: ignore[attr-defined]
    backend.clock = clock
    secret = backend.sites["main"].secret
    _, token = passed_session(backend, passing_paths[0])
    clock.advance(3 * 86400)
    late = backend.client.post(URL, json={"secret": secret, "response": token, "label": "chargeback"})
    assert late.json() == {"labelled": 1, "label": "chargeback"}
    assert backend.siteverify(token).json()["error-codes"] == ["timeout-or-duplicate"]
    clock.advance(5 * 86400)  # past the 7-day retention: the claims are gone with the traces
    gone = backend.client.post(URL, json={"secret": secret, "response": token, "label": "chargeback"})
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "session_not_found")
