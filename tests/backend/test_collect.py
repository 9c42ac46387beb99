"""Learning from traffic: opt-in collection of scored traces only, bounded and within a quota, the sites' labels
(covering only passing traces) as the only ground truth, export and cleanup."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson

from tcurity.datasets import read_traces
from tcurity.geometry import grid_layout
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_a_trace
from tcurity.traces import MAX_POINTS, Event, Trace, TraceArrays, make_trace
from tests.backend.conftest import Backend, Clock, human_answer
from tests.backend.test_phase_b_api import answer_b, drags, issue_b, kept_answer, to_phase_b
from web.backend.app.cli import main as cli_main
from web.backend.app.cli import traces_cleanup
from web.backend.app.services.collect import MAX_COLLECTED_POINTS, MAX_RECORD_BYTES, bound_trace
from web.backend.app.services.export import export_site, to_record
from web.backend.app.sites import SitePolicy, load_file
from web.backend.app.store import MemoryStore
from web.backend.app.store.base import StoredTrace

URL = "/api/v1/report"
COLLECT = SitePolicy(phase_b="never", collect=True, retention_days=7)


def passed_session(backend: Backend, path: Path2) -> tuple[str, str]:
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    result = backend.answer_a(sid, human_answer(path, task)).json()
    assert result["outcome"] == "passed"
    return sid, result["token"]


def bot_answer(backend: Backend, sid: str) -> None:
    """A bot's tear that passes every server-side check and is refused by the model."""
    task = backend.issue_a(sid)
    bot = make_trace(phase_a_trace(task, "teleport", np.random.default_rng(0)), task)
    assert backend.answer_a(sid, bot).json()["outcome"] == "retry"


def failed_session(backend: Backend) -> str:
    sid = backend.create()["session_id"]
    bot_answer(backend, sid)
    return str(sid)


def stored(backend: Backend) -> list[StoredTrace]:
    store = backend.client.app.state.services.collector.store  # type: ignore[attr-defined]
    return asyncio.run(store.traces(backend.sites["main"].sitekey))


def dropped(backend: Backend, reason: str) -> float:
    telemetry = backend.client.app.state.services.telemetry  # type: ignore[attr-defined]
    value = telemetry.registry.get_sample_value("backend_collect_dropped_total", {"reason": reason})
    return float(value or 0.0)


def label(backend: Backend, sid: str, name: str) -> dict:
    secret = backend.sites["main"].secret
    response = backend.client.post(URL, json={"secret": secret, "session_id": sid, "label": name})
    assert response.status_code == 200, response.text
    return dict(response.json())


def export(backend: Backend, out_dir: Path) -> dict[str, list]:
    site = load_file(backend.settings.sites_file).sites[0]
    store = backend.client.app.state.services.collector.store  # type: ignore[attr-defined]
    result = asyncio.run(export_site(store, site, out_dir))
    return {Path(p).stem: read_traces(Path(p)) for p in result.files}


def dense(trace: Trace, n: int, rng: np.random.Generator) -> Trace:
    """The trace's press resampled to ``n`` points at full float precision (the largest trace allowed)."""
    a = trace.arrays()
    lo, hi = a.press_spans()[0]
    u = np.linspace(lo, hi, n)
    idx = np.arange(len(a))
    event = np.full(n, Event.MOVE, dtype=np.int8)
    event[0], event[-1] = Event.DOWN, Event.UP
    x = np.interp(u, idx, a.x) + rng.uniform(-1e-9, 1e-9, n)
    y = np.interp(u, idx, a.y) + rng.uniform(-1e-9, 1e-9, n)
    return make_trace(TraceArrays(x, y, np.interp(u, idx, a.t_ms) + 1e-7, event), trace.task)


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
    assert sorted(t.refused for t in traces) == [False, True]  # the model's refusal is kept, quarantined
    assert all(6.9 * 86400 < t.expires_s - collecting.clock() < 7.1 * 86400 for t in traces)


def test_reports_label_sessions_by_token_or_id(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT})
    secret = backend.sites["main"].secret
    _, token = passed_session(backend, passing_paths[0])
    other, _ = passed_session(backend, passing_paths[1])
    failed = failed_session(backend)
    backend.clock.advance(3600)  # reports come late: an expired token still names its session
    by_token = backend.client.post(URL, json={"secret": secret, "response": token, "label": "chargeback"})
    assert by_token.status_code == 200
    assert by_token.json() == {"labelled": 1, "label": "chargeback"}
    by_id = backend.client.post(URL, data={"secret": secret, "session_id": other, "label": "confirmed_human"})
    assert by_id.json() == {"labelled": 1, "label": "confirmed_human"}
    refused_only = backend.client.post(
        URL, data={"secret": secret, "session_id": failed, "label": "confirmed_human"}
    )
    assert (refused_only.status_code, refused_only.json()["error"]["code"]) == (404, "session_not_found")
    assert sorted(str(t.label) for t in stored(backend)) == ["None", "chargeback", "confirmed_human"]


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
    human_sid, _ = passed_session(backend, passing_paths[1])
    passed_session(backend, passing_paths[2])  # never labelled: never exported
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


def test_traces_refused_before_scoring_are_not_kept(make_backend, passing_paths: list[Path2]) -> None:
    policy = SitePolicy(phase_b="always", collect=True, fail_open=True)
    backend: Backend = make_backend(sites={"main": policy})
    first = to_phase_b(backend, passing_paths[0])  # scored and passed: the one trace kept
    problem = issue_b(backend, first)
    wrong = kept_answer(backend, first)[::-1]
    # A wrong answer is scored like a right one (no timing oracle), so it is kept, quarantined as refused.
    assert answer_b(backend, first, wrong, drags(problem, wrong))["outcome"] == "retry"
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    too_long = backend.answer_a(sid, human_answer(passing_paths[1], task), wait=False)  # no time passed
    assert too_long.json()["outcome"] == "retry"
    task = backend.issue_a(sid)
    a = human_answer(passing_paths[1], task).arrays()
    off_line = make_trace(replace(a, y=np.clip(a.y + 0.3, -1.0, 2.0)), task)  # geometry_*
    assert backend.answer_a(sid, off_line).json()["outcome"] == "retry"
    task = backend.issue_a(sid)
    replayed = backend.answer_a(sid, human_answer(passing_paths[0], task))  # the first session's stroke
    assert replayed.json()["outcome"] == "blocked"
    unscored = backend.create()["session_id"]
    task = backend.issue_a(unscored)
    backend.ai.down = True  # fail-open: the phase passes unscored
    assert backend.answer_a(unscored, human_answer(passing_paths[2], task)).json()["outcome"] == "next_phase"
    traces = stored(backend)
    kept = sorted((orjson.loads(t.data)["phase"], t.refused) for t in traces)
    assert {t.session_id for t in traces} == {first}
    assert kept == [("phase_a", False), ("phase_b", True)]


def test_a_long_trace_is_kept_downsampled_within_the_cap(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT})
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    trace = dense(human_answer(passing_paths[3], task), MAX_POINTS, np.random.default_rng(0))
    assert len(trace.model_dump_json()) > 500_000  # what the review measured: ~0.8 MB as sent
    assert backend.answer_a(sid, trace).json()["outcome"] in {"passed", "retry"}  # scored either way
    (kept,) = stored(backend)
    assert len(kept.data) <= MAX_RECORD_BYTES
    payload = orjson.loads(kept.data)
    points = payload["trace"]["points"]
    assert payload["points_received"] == MAX_POINTS
    assert len(points["x"]) == MAX_COLLECTED_POINTS
    assert (points["event"][0], points["event"][-1]) == ("down", "up")
    assert all(round(v, 4) == v for v in points["x"] + points["y"])
    assert Trace.model_validate(payload["trace"]).task == task


def test_bounding_keeps_every_press_boundary() -> None:
    rng = np.random.default_rng(3)
    task = grid_layout(3)  # a task that takes many presses
    n, presses = 3000, 40
    event = np.full(n, Event.MOVE, dtype=np.int8)
    starts = np.arange(presses) * (n // presses)
    event[starts], event[starts + n // presses - 1] = Event.DOWN, Event.UP
    arrays = TraceArrays(rng.uniform(0, 1, n), rng.uniform(0, 1, n), np.arange(n) * 2.0, event)
    bounded = bound_trace(make_trace(arrays, task), max_points=100)
    assert bounded is not None
    events = bounded.points.event
    assert len(events) == 100
    assert (events.count("down"), events.count("up")) == (presses, presses)
    assert (bounded.points.t_ms[0], bounded.points.t_ms[-1]) == (0.0, (n - 1) * 2.0)
    taps = TraceArrays(
        arrays.x[:202], arrays.y[:202], arrays.t_ms[:202], np.tile([0, 2], 101).astype(np.int8)
    )
    assert bound_trace(make_trace(taps, task), max_points=100) is None  # 202 boundaries cannot fit in 100


def test_past_the_quota_new_traces_are_dropped_and_counted(make_backend, passing_paths: list[Path2]) -> None:
    tiny = SitePolicy(phase_b="never", collect=True, collect_quota_mib=0.0001)  # 104 bytes: no record fits
    backend: Backend = make_backend(sites={"main": tiny})
    _, token = passed_session(backend, passing_paths[0])  # never an error to the person
    assert backend.siteverify(token).json()["success"] is True
    assert stored(backend) == []
    assert dropped(backend, "quota") == 1.0


def test_a_label_covers_only_the_passing_scored_trace(
    make_backend, passing_paths: list[Path2], tmp_path: Path
) -> None:
    backend: Backend = make_backend(sites={"main": COLLECT})
    sid = backend.create()["session_id"]
    bot_answer(backend, sid)  # refused by the model: quarantined
    task = backend.issue_a(sid)
    assert backend.answer_a(sid, human_answer(passing_paths[0], task)).json()["outcome"] == "passed"
    assert label(backend, sid, "confirmed_human") == {"labelled": 1, "label": "confirmed_human"}
    kept = {t.refused: t for t in stored(backend)}
    assert (kept[True].label, kept[False].label) == (None, "confirmed_human")
    exported = export(backend, tmp_path / "collected")
    assert [(r.trace_id, r.source) for r in exported["phase_a"]] == [(kept[False].trace_id, "human")]
    forged = replace(kept[True], label="confirmed_human", refused=False)  # even a mislabelled row stays out
    assert to_record(forged) is None


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
