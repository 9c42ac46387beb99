"""The red-team harness's fast subset, in the default test run: a few attackers and a held-out person, one
attempt each, against the test stack (small real Phase A model, Phase B double). The full run is
``make redteam`` on the real champions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redteam import report
from redteam.__main__ import Config, run
from redteam.humans import HeldOutPeople
from redteam.stack import Stack
from tcurity.config import params

FAST = (
    "playwright_default",
    "selenium_actionchains",
    "replay",
    "replay_junk_press",
    "replay_noisy",
    "relay",
)


@pytest.fixture(scope="module")
def summary(stack: Stack, browser: object) -> dict[str, object]:
    p = params()
    cfg = Config(
        attempts=1,
        human_attempts=1,
        only=FAST,
        max_minutes=6.0,
        # The test stack's small champion learned Balabit people, so its people are Balabit's too.
        humans=HeldOutPeople(p, list(p.split.test_users), seed=1, population="balabit"),
        replay_sources=HeldOutPeople(p, list(p.split.attacker_users), seed=2, population="balabit"),
        relay_variants=("other_site", "other_action", "reuse"),  # "expired" waits out a token's 120 s
    )
    return run(stack, cfg, browser)


def test_the_summary_holds_the_contract(summary: dict, tmp_path: Path) -> None:
    assert set(summary["attackers"]) == set(FAST)
    for row in [*summary["attackers"].values(), summary["humans"]]:
        for key, kind in {"attempts": int, "phase_a_pass_rate": float, "phase_b_pass_rate": float}.items():
            assert isinstance(row[key], kind), (key, row)
        assert isinstance(row["full_pass_rate"], float) and isinstance(row["bookings"], int)
        assert row["attempts"] >= 1, row
    assert summary["models"]["tcurity-phase-a-iforest"]
    path = report.write(summary, tmp_path)
    report.write(summary, tmp_path)
    assert json.loads(path.read_text())["attackers"].keys() == summary["attackers"].keys()
    assert (tmp_path / "previous.json").exists()
    text = (tmp_path / "report.md").read_text()
    assert "| playwright_default | 1 |" in text and "people (held-out)" in text


def test_scripted_replayed_and_relayed_attempts_never_book(summary: dict) -> None:
    rows = summary["attackers"]
    for name in FAST:
        assert rows[name]["bookings"] == 0, (name, rows[name])
        assert rows[name]["full_pass_rate"] == 0.0, (name, rows[name])
    assert rows["playwright_default"]["phase_a_pass_rate"] == 0.0
    assert rows["playwright_default"]["phase_b_probes"] == 1  # a person played its Phase A to measure Phase B
    assert rows["replay"]["block_reasons"] == {"phase_a:wrong_task": 1}  # the exact re-send
    assert set(rows["relay"]["block_reasons"]) == {
        "siteverify:sitekey-mismatch",
        "siteverify:action-mismatch",
        "siteverify:timeout-or-duplicate",
    }
    assert rows["relay"]["attempts"] == 3
