"""The OS-input path: a headed Chromium on Xvfb, launched as a plain process, its pointer and keyboard driven
through the X server's XTEST extension (:mod:`redteam.osinput`). A held-out person's tear and a grid answer,
played at their recorded pace, reach the booking exactly as a person's hand would."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from redteam import osinput
from redteam.osinput import OsMover, OsSession
from redteam.stack import Stack
from tcurity.data.adapter import to_perforation
from tcurity.sampling import Path2
from tests.browser.helpers import grid_trace


@pytest.fixture(scope="module")
def os_session() -> Iterator[OsSession]:
    why = osinput.available()
    if why:
        pytest.skip(why)
    session = OsSession()
    yield session
    session.close()


def test_a_held_out_person_through_os_input_books_a_seat(
    stack: Stack, human_strokes: list[Path2], os_session: OsSession
) -> None:
    rng = np.random.default_rng(11)
    person = OsMover(
        tear_trace=lambda task: to_perforation(human_strokes.pop(), task),
        grid_trace=lambda task, moves: grid_trace(task, [cell for cell, _ in moves], rng),
    )
    outcome = os_session.attempt(stack, person, person, rng)
    assert outcome.error is None, outcome.error
    assert outcome.phase_a and outcome.booked, outcome
    tear = outcome.traces[0]["trace"]["points"]
    # What the browser said about OS input: trusted mouse events, at the X server's pace.
    assert set(tear["pointer_type"]) == {"mouse"}
    assert all(tear["trusted"])
