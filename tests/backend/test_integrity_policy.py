"""A site's integrity policy where the backend combines the phases (``SitePolicy.integrity``, docs/integrity.md):
``log`` reports, ``block`` fails the answer, ``escalate`` asks one more Phase B round once per session. The
integrity verdicts come from the real layer (in the AI server and in the Phase B contract double); a trace is
flagged here by its environment report (``navigator.webdriver``), the one tell a test can set without a browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcurity.data.adapter import place_approach, with_approach
from tcurity.sampling import Path2
from tcurity.traces import (
    MAX_POINTS,
    MAX_SUBSAMPLES,
    EnvReport,
    PerforationTask,
    Trace,
    make_trace,
    with_browser_signals,
)
from tests.backend.conftest import ORIGIN, Backend, human_answer
from tests.backend.test_phase_b_api import answer_b, drags, issue_b, kept_answer
from tests.backend.test_sites_and_security import cli_env, run_cli  # noqa: F401  (a fixture used here)
from web.backend.app.cli import main as cli_main
from web.backend.app.sites import SitePolicy, load_file

AUTOMATED = EnvReport(webdriver=True, headless=False, brands=["Chromium"])
PERSON = EnvReport(webdriver=False, headless=False, brands=["Chromium"])
METRICS_TOKEN = "metrics-token-0123456789"


def metrics(backend: Backend) -> str:
    response = backend.client.get("/api/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return response.text


def tear(path: Path2, task: PerforationTask, env: EnvReport) -> Trace:
    """A held-out person's stroke as a mouse at a device pixel ratio of 1 gives it (whole pixels) from a browser
    without ``getCoalescedEvents``, after the same person's movement onto the grip (the approach the SDK records):
    of the pointer tells only ``slow_moves`` (the recording's ~9 Hz) can show, one tell is never a reason, so
    ``env`` alone decides the verdict."""
    width, height = task.area_px
    approach = place_approach(
        path, (task.start.x * width, task.start.y * height), task.area_px, np.random.default_rng(0)
    )
    assert approach is not None
    pressed = human_answer(path, task)
    trace = with_browser_signals(make_trace(with_approach(pressed.arrays(), approach, task.area_px), task))
    xs = [round(round(x * width) / width, 5) for x in trace.points.x]
    ys = [round(round(y * height) / height, 5) for y in trace.points.y]
    points = trace.points.model_copy(update={"x": xs, "y": ys, "coalesced": [0] * len(xs)})
    return trace.model_copy(update={"points": points, "env": env})


def answer_a(backend: Backend, sid: str, path: Path2, env: EnvReport) -> dict[str, Any]:
    response = backend.answer_a(sid, tear(path, backend.issue_a(sid), env))
    assert response.status_code == 200, response.text
    return dict(response.json())


def pass_b(backend: Backend, sid: str, env: EnvReport | None = None, seed: int = 0) -> dict[str, Any]:
    backend.fill_pool()  # what the background filler does between rounds
    problem = issue_b(backend, sid)
    answer = kept_answer(backend, sid)
    trace = drags(problem, answer, seed).model_copy(update={"env": env})
    return answer_b(backend, sid, answer, trace)


def test_log_reports_the_reason_in_siteverify_and_metrics_and_passes(
    make_backend, passing_paths: list[Path2]
) -> None:
    backend: Backend = make_backend(metrics_token=METRICS_TOKEN)  # the default policy: log
    sid = backend.create()["session_id"]
    result = answer_a(backend, sid, passing_paths[0], AUTOMATED)
    assert result["outcome"] == "passed"
    verdict = backend.siteverify(result["token"]).json()
    assert verdict["success"] is True
    assert "automation_env" in verdict["reasons"]
    assert verdict["models"]["integrity"] == "tcurity-integrity@2"
    assert 'backend_integrity_total{action="log",phase="phase_a",reason="automation_env"} 1.0' in metrics(
        backend
    )


def test_a_clean_answer_carries_no_integrity_reason(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", integrity="block")})
    sid = backend.create()["session_id"]
    result = answer_a(backend, sid, passing_paths[0], PERSON)
    assert result["outcome"] == "passed"
    verdict = backend.siteverify(result["token"]).json()
    assert not {"automation_env", "injected_input"} & set(verdict["reasons"])


def test_block_fails_the_answer_and_runs_out_the_attempts(make_backend, passing_paths: list[Path2]) -> None:
    policy = SitePolicy(phase_b="never", integrity="block")
    backend: Backend = make_backend(sites={"main": policy}, metrics_token=METRICS_TOKEN)
    sid = backend.create()["session_id"]
    outcomes = [answer_a(backend, sid, path, AUTOMATED)["outcome"] for path in passing_paths[:3]]
    assert outcomes == ["retry", "retry", "blocked"]
    assert 'backend_block_reasons_total{phase="phase_a",reason="automation_env"} 3.0' in metrics(backend)


def test_escalate_asks_phase_b_of_a_site_that_never_does(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="never", integrity="escalate")})
    sid = backend.create()["session_id"]
    first = answer_a(backend, sid, passing_paths[0], AUTOMATED)
    assert (first["outcome"], first["state"]) == ("next_phase", "phase_b")
    result = pass_b(backend, sid)
    assert result["outcome"] == "passed"
    assert "automation_env" in backend.siteverify(result["token"]).json()["reasons"]


def test_escalate_asks_a_second_phase_b_round_once(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="always", integrity="escalate")})
    sid = backend.create()["session_id"]
    assert answer_a(backend, sid, passing_paths[0], AUTOMATED)["outcome"] == "next_phase"
    second = pass_b(backend, sid, AUTOMATED, seed=1)
    assert (second["outcome"], second["state"]) == ("next_phase", "phase_b")
    assert second["attempts_left"]["phase"] == 2
    result = pass_b(backend, sid, AUTOMATED, seed=2)  # flagged again: the one escalation is spent
    assert result["outcome"] == "passed"


def test_escalate_in_phase_b_adds_one_round(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="always", integrity="escalate")})
    sid = backend.create()["session_id"]
    assert answer_a(backend, sid, passing_paths[0], PERSON)["outcome"] == "next_phase"
    assert pass_b(backend, sid, AUTOMATED, seed=3)["outcome"] == "next_phase"
    assert pass_b(backend, sid, PERSON, seed=4)["outcome"] == "passed"


def test_escalate_leaves_a_clean_session_alone(make_backend, passing_paths: list[Path2]) -> None:
    backend: Backend = make_backend(sites={"main": SitePolicy(phase_b="always", integrity="escalate")})
    sid = backend.create()["session_id"]
    assert answer_a(backend, sid, passing_paths[0], PERSON)["outcome"] == "next_phase"
    assert pass_b(backend, sid, PERSON, seed=5)["outcome"] == "passed"


def test_the_policy_is_a_cli_option_and_old_files_default_to_log(
    cli_env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    strict = run_cli(
        capsys, "sites", "add", "--name", "S", "--hostname", "s.example.com", "--integrity", "block"
    )
    plain = run_cli(capsys, "sites", "add", "--name", "P", "--hostname", "p.example.com")
    assert isinstance(strict, dict) and isinstance(plain, dict)
    policies = {s.sitekey: s.policy.integrity for s in load_file(cli_env).sites}
    assert policies == {strict["sitekey"]: "block", plain["sitekey"]: "log"}
    content = json.loads(cli_env.read_text())
    for site in content["sites"]:
        site["policy"].pop("integrity")  # a file written before the option existed
    cli_env.write_text(json.dumps(content))
    assert [s.policy.integrity for s in load_file(cli_env).sites] == ["log", "log"]
    with pytest.raises(SystemExit):
        cli_main(["sites", "add", "--name", "X", "--hostname", "x.example.com", "--integrity", "ban"])


def test_the_largest_trace_with_every_integrity_column_fits_the_body_limits(
    make_backend, passing_paths: list[Path2]
) -> None:
    """8,000 pen events with every column the SDK sends (contact columns included) and the most sub-events, at
    the SDK's rounding and with JSON.stringify's compact separators, stay under the backend's and the AI server's
    1 MiB and are scored, not refused."""
    backend: Backend = make_backend()
    sid = backend.create()["session_id"]
    task = backend.issue_a(sid)
    stroke = human_answer(passing_paths[0], task).arrays()
    n = MAX_POINTS
    t = np.linspace(stroke.t_ms[0], stroke.t_ms[-1], n)
    xs = np.round(np.interp(t, stroke.t_ms, stroke.x), 5)
    ys = np.round(np.interp(t, stroke.t_ms, stroke.y), 5)
    ts = np.round(1_234_567.0 + t, 2)
    width, height = task.area_px
    points: dict[str, Any] = {
        "x": xs.tolist(),
        "y": ys.tolist(),
        "t_ms": ts.tolist(),
        "event": ["down"] + ["move"] * (n - 2) + ["up"],
        "pointer_type": ["pen"] * n,
        "trusted": [True] * n,
        "coalesced": [3] * n,
        "screen_dx": [1_287.5] * n,
        "screen_dy": [-1_024.25] * n,
        "movement_x": np.round(np.diff(xs, prepend=xs[0]) * width, 2).tolist(),
        "movement_y": np.round(np.diff(ys, prepend=ys[0]) * height, 2).tolist(),
        "frame_ms": np.round(np.linspace(0.1, 16.6, n), 1).tolist(),
        "pressure": np.round(np.linspace(0.123, 0.987, n), 3).tolist(),
        "contact_w": [12.75] * n,
        "contact_h": [13.25] * n,
        "tilt_x": [-37.5] * n,
        "tilt_y": [42.5] * n,
    }
    per_event = MAX_SUBSAMPLES // (n - 1)
    owners = [i for i in range(1, n) for _ in range(per_event)][:MAX_SUBSAMPLES]
    owners += list(range(1, MAX_SUBSAMPLES - len(owners) + 1))
    owners.sort()
    points["sub"] = {
        "index": owners,
        "x": [points["x"][i] for i in owners],
        "y": [points["y"][i] for i in owners],
        "t_ms": [round(points["t_ms"][i] - 0.37, 2) for i in owners],
    }
    body = {
        "trace": {
            "points": points,
            "viewport": {"width_px": 1280, "height_px": 800},
            "task": task.model_dump(),
        }
    }
    encoded = json.dumps(body, separators=(",", ":"))
    assert 800_000 < len(encoded) < backend.settings.max_body_bytes
    backend.clock.advance((t[-1] - t[0]) / 1000.0 + 0.05)
    response = backend.client.post(
        f"/api/v1/challenge/sessions/{sid}/phase-a/answer",
        content=encoded,
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] in {"passed", "retry"}
