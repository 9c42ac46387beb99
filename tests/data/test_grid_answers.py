"""Phase B answers composed from hand-made sessions (:mod:`tcurity.data.grid_answers`).

Every hand-made stroke is a straight line of 200 px in 9 steps of 30 ms (so 240 ms), rightwards; a drag's first
step is 3 px then 4 px more (its press hold to 5 px is then interpolated at 30 + 2/4 · 30 = 45 ms).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from tcurity.config import load_params
from tcurity.data import grid_answers as ga
from tcurity.data.adapter import GridComposition
from tcurity.data.populations import phase_a_split
from tcurity.data.strokes import Stroke, StrokeKind
from tcurity.datasets import TraceRecord
from tcurity.geometry import grid_layout
from tcurity.sampling import Path2
from tcurity.traces import Event

TWO_TARGETS = ga.AnswerLayout(2, 2)


def stroke(user: str, session: str, n: int, kind: StrokeKind = "point", chord_px: float = 200.0) -> Stroke:
    t = np.arange(10) * 30.0
    if kind == "drag":
        x = np.concatenate([[0.0, 3.0, 7.0], np.linspace(7.0, chord_px, 7)[1:], [chord_px]])
    else:
        x = np.linspace(0.0, chord_px, 10)
    return Stroke(f"{user}-{session}-{n:05d}", user, session, kind, Path2(t, x, np.zeros(10)), 150.0)


def session(user: str, name: str, points: int, drags: int = 0) -> list[Stroke]:
    return [stroke(user, name, i) for i in range(points)] + [
        stroke(user, name, points + i, "drag") for i in range(drags)
    ]


def test_sessions_group_by_user_and_session_in_recording_order() -> None:
    a, b, c = stroke("u1", "s2", 1), stroke("u1", "s2", 0), stroke("u0", "s1", 0)
    assert ga.sessions([a, b, c]) == {("u0", "s1"): [c], ("u1", "s2"): [b, a]}


def test_press_holds_are_the_persons_own_or_the_training_peoples() -> None:
    strokes = (
        session("trainer", "s", 0, drags=2) + session("tester", "s", 1) + session("other", "s", 0, drags=1)
    )
    holds = ga.press_holds_ms(strokes, {"trainer", "tester"}, fallback_users={"trainer"})
    assert holds["trainer"] == pytest.approx([45.0, 45.0])
    # The tester recorded no drag: they get the training people's holds, never another held-out person's.
    assert holds["tester"] == pytest.approx([45.0, 45.0])
    assert set(holds) == {"trainer", "tester"}


def test_a_session_answers_until_it_runs_short_of_pointing_strokes() -> None:
    # Two targets need four pointing strokes (no drag recorded): 9 strokes give two answers and leave one.
    strokes = session("u", "s", 9)
    records = ga.session_answers(
        "u", "s", strokes, [45.0], "train", TWO_TARGETS, GridComposition(), np.random.default_rng(0)
    )
    assert [r.trace_id for r in records] == ["u-s-b0000", "u-s-b0001"]
    for r in records:
        assert (r.source, r.family, r.user, r.split) == ("human", "human", "u", "train")
        assert int(np.sum(r.arrays.event == Event.DOWN)) == int(np.sum(r.arrays.event == Event.UP)) == 2
    assert len(strokes) == 9  # the caller's list is not consumed


def test_recorded_drags_serve_as_drags_first() -> None:
    # Two approaches and two recorded drags: exactly one answer from four pointing strokes plus the drags.
    strokes = session("u", "s", 4, drags=2)
    records = ga.session_answers(
        "u", "s", strokes, [], "test", TWO_TARGETS, GridComposition(), np.random.default_rng(1)
    )
    assert len(records) == 1
    a = records[0].arrays
    downs, ups = np.flatnonzero(a.event == Event.DOWN), np.flatnonzero(a.event == Event.UP)
    # A recorded drag keeps its 9 steps after the press (its first point is the press itself).
    assert list(ups - downs) == [9, 9]


def test_people_keep_their_split_and_attackers_never_answer() -> None:
    splits = {"a": "train", "b": "balabit_test", "x": None}
    strokes = session("a", "s0", 4) + session("b", "s0", 4) + session("x", "s0", 8)
    records = ga.human_answers(
        strokes, splits.get, {"a"}, TWO_TARGETS, GridComposition(), np.random.default_rng(2)
    )
    assert {(r.user, r.split) for r in records} == {("a", "train"), ("b", "balabit_test")}


def test_no_person_is_on_two_sides_of_the_project_split() -> None:
    """With the project's split: one label per person, attackers of both populations only as replay sources."""
    p = load_params()
    people = {
        "sapi_user4": "train",  # SapiMouse train
        "sapi_user20": "calib",
        "sapi_user12": "test",
        "user21": "balabit_test",
    }
    attackers = ["sapi_user1", "user29"]
    strokes = [s for user in [*people, *attackers] for s in session(user, "s0", 4) + session(user, "s1", 4)]
    records = ga.human_answers(
        strokes,
        partial(phase_a_split, p),
        set(p.sapimouse_split.train_users),
        TWO_TARGETS,
        GridComposition(),
        np.random.default_rng(3),
    )
    labels: dict[str, set[str]] = {}
    for r in records:
        labels.setdefault(r.user, set()).add(r.split)
    assert labels == {user: {split} for user, split in people.items()}
    sources = ga.attacker_sources(strokes, p.sapimouse_split.attacker_users)
    replayed = {s.user for side in sources.values() for s in side}
    assert replayed == {"sapi_user1"}
    assert not replayed & set(labels)


def test_attacker_sessions_alternate_between_training_and_evaluation_bots() -> None:
    strokes = session("x", "s0", 1) + session("x", "s1", 2) + session("x", "s2", 3) + session("y", "s9", 1)
    sources = ga.attacker_sources(strokes, {"x"})
    assert [s.session for s in sources["train"]] == ["s0", "s2", "s2", "s2"]
    assert [s.session for s in sources["test"]] == ["s1", "s1"]


def test_movement_lengths_run_centre_to_centre() -> None:
    # 340 × 500 px: 100 px cells at 12, 120, 228 px; one 80 px slot centred at (170, 392).
    task = grid_layout(1, (340, 500))
    assert ga.movement_lengths_px(task, [(4, 0)]) == pytest.approx([None, 392.0 - 170.0])


def test_replay_picks_a_stroke_of_about_each_movements_length() -> None:
    short, long = stroke("x", "s", 0, chord_px=100.0), stroke("x", "s", 1, chord_px=400.0)
    picked = ga.replay_sources([short, long], [None, 110.0, 390.0, 1000.0], np.random.default_rng(4))
    assert [float(p.x[-1]) for p in picked[1:3]] == [100.0, 400.0]
    assert float(picked[3].x[-1]) in (100.0, 400.0)  # nothing fits: any source


def test_the_summary_counts_answers_by_split_population_and_person() -> None:
    task = grid_layout(1, (340, 500))
    (teleport,) = ga.bot_answers("teleport", 1, "train", ga.AnswerLayout(1, 1), np.random.default_rng(5), [])
    arrays = teleport.arrays

    def answer(user: str, split: str, source: str = "human") -> TraceRecord:
        return TraceRecord(f"{user}-{split}", source, "human", user, split, task, arrays)

    people = (
        [answer("sapi_user4", "train")] * 3
        + [answer("sapi_user12", "test")]
        + [answer("user21", "balabit_test")]
    )
    bots = [answer("", "train", "bot")] * 2 + [answer("", "test", "bot")]
    summary = ga.summary(people, bots)
    assert summary["humans_by_split"] == {"balabit_test": 1, "test": 1, "train": 3}
    assert summary["humans_by_user"] == {"sapi_user12": 1, "sapi_user4": 3, "user21": 1}
    assert summary["humans_by_population"] == {
        "sapimouse": {
            "people": 2,
            "answers": 4,
            "per_person_min": 1,
            "per_person_median": 2.0,
            "per_person_max": 3,
        },
        "balabit": {
            "people": 1,
            "answers": 1,
            "per_person_min": 1,
            "per_person_median": 1.0,
            "per_person_max": 1,
        },
    }
    assert summary["bots_by_split"] == {"train": 2, "test": 1}
