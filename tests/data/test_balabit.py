"""Cutting Balabit sessions into human movements: stroke rules, filters and the session/stroke files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tcurity.data.balabit import (
    Stroke,
    chord_deviation,
    cut_strokes,
    keep_stroke,
    movement_gaps_ms,
    read_session,
    read_strokes,
    session_files,
    write_strokes,
)
from tcurity.sampling import Path2

TRAINING_FILES = Path(__file__).resolve().parents[2] / "data" / "raw" / "balabit-mouse" / "training_files"
SESSION = TRAINING_FILES / "user29" / "session_2786719181.csv.gz"


def frame(rows: list[tuple[float, str, float, float]]) -> pd.DataFrame:
    """A session frame from ``(t_ms, state, x, y)`` rows."""
    return pd.DataFrame(
        {
            "t_ms": [r[0] for r in rows],
            "button": ["Left" if r[1] in ("Pressed", "Released") else "NoButton" for r in rows],
            "state": [r[1] for r in rows],
            "x": [r[2] for r in rows],
            "y": [r[3] for r in rows],
        }
    )


SESSION_ROWS = [
    # A run that never ends in a press, broken by a long pause.
    (0.0, "Move", 10, 10),
    (100.0, "Move", 20, 10),
    (200.0, "Move", 30, 10),
    # 1,800 ms later a new run starts and leads to a press: a pointing stroke.
    (2000.0, "Move", 100, 100),
    (2100.0, "Move", 110, 100),
    (2200.0, "Move", 130, 100),
    (2200.0, "Move", 134, 102),  # same time: merged with the row before
    (2300.0, "Pressed", 140, 100),
    # A drag: Pressed → Drag × 3 → Released.
    (2400.0, "Drag", 150, 110),
    (2500.0, "Drag", 160, 120),
    (2600.0, "Drag", 170, 130),
    (2700.0, "Released", 175, 135),
    # One Move before a press is too short for a stroke; a press without drags is no drag.
    (2800.0, "Move", 180, 135),
    (2900.0, "Pressed", 185, 135),
    (3000.0, "Released", 185, 135),
]


def test_cut_strokes_finds_one_pointing_stroke_and_one_drag() -> None:
    strokes = cut_strokes(frame(SESSION_ROWS), "user7", "s1", max_pause_ms=1000.0)
    assert [(s.stroke_id, s.kind) for s in strokes] == [
        ("user7-s1-00000", "point"),
        ("user7-s1-00001", "drag"),
    ]
    point, drag = strokes
    assert (point.user, point.session) == ("user7", "s1")
    assert point.pause_before_ms == 1800.0
    assert point.path.t_ms.tolist() == [0.0, 100.0, 200.0, 300.0]
    assert point.path.x.tolist() == [100.0, 110.0, 132.0, 140.0]
    assert point.path.y.tolist() == [100.0, 100.0, 101.0, 100.0]
    assert drag.pause_before_ms == 0.0
    assert drag.path.t_ms.tolist() == [0.0, 100.0, 200.0, 300.0, 400.0]
    assert drag.path.x.tolist() == [140.0, 150.0, 160.0, 170.0, 175.0]
    assert drag.path.y.tolist() == [100.0, 110.0, 120.0, 130.0, 135.0]


def test_a_run_without_a_pause_starts_at_the_first_move_after_another_event() -> None:
    rows = [
        (0.0, "Released", 0, 0),
        (50.0, "Move", 1, 0),
        (100.0, "Move", 2, 0),
        (150.0, "Move", 3, 0),
        (200.0, "Pressed", 4, 0),
    ]
    (stroke,) = cut_strokes(frame(rows), "u", "s", max_pause_ms=1000.0)
    assert stroke.path.x.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert stroke.pause_before_ms == 50.0


def test_a_press_interrupted_by_a_move_is_no_drag() -> None:
    rows = [
        (0.0, "Pressed", 0, 0),
        (100.0, "Drag", 10, 0),
        (200.0, "Move", 20, 0),
        (300.0, "Drag", 30, 0),
        (400.0, "Released", 40, 0),
    ]
    assert cut_strokes(frame(rows), "u", "s", max_pause_ms=1000.0) == []


def test_a_drag_needs_two_drag_rows() -> None:
    rows = [(0.0, "Pressed", 0, 0), (100.0, "Drag", 10, 0), (200.0, "Released", 20, 0)]
    assert cut_strokes(frame(rows), "u", "s", max_pause_ms=1000.0) == []


def stroke(t_ms: list[float], x: list[float], y: list[float]) -> Stroke:
    return Stroke("u-s-00000", "u", "s", "point", Path2(np.array(t_ms), np.array(x), np.array(y)), 500.0)


# Chord 100 px, 300 ms, largest gap 100 ms, largest deviation 5 px (0.05 chords).
CLEAN = stroke([0.0, 100.0, 200.0, 300.0], [0.0, 40.0, 80.0, 100.0], [0.0, 5.0, 5.0, 0.0])
LIMITS = {
    "min_chord_px": 50.0,
    "max_chord_px": 500.0,
    "min_duration_ms": 100.0,
    "max_duration_ms": 2000.0,
    "max_pause_ms": 300.0,
    "max_deviation": 0.2,
}


def test_keep_a_clean_stroke_and_limits_are_inclusive() -> None:
    assert keep_stroke(CLEAN, **LIMITS)
    inclusive = {
        "min_chord_px": 100.0,
        "max_chord_px": 100.0,
        "min_duration_ms": 300.0,
        "max_duration_ms": 300.0,
        "max_pause_ms": 100.0,
        "max_deviation": 0.05,
    }
    assert keep_stroke(CLEAN, **inclusive)


@pytest.mark.parametrize(
    "tighter",
    [
        {"min_chord_px": 100.5},
        {"max_chord_px": 99.5},
        {"min_duration_ms": 301.0},
        {"max_duration_ms": 299.0},
        {"max_pause_ms": 99.0},
        {"max_deviation": 0.049},
    ],
)
def test_keep_stroke_rejects_by_each_limit(tighter: dict[str, float]) -> None:
    assert not keep_stroke(CLEAN, **(LIMITS | tighter))


def test_keep_stroke_rejects_fewer_than_four_samples() -> None:
    assert not keep_stroke(stroke([0.0, 150.0, 300.0], [0.0, 50.0, 100.0], [0.0, 0.0, 0.0]), **LIMITS)


def test_keep_stroke_rejects_an_inner_pause() -> None:
    paused = stroke([0.0, 50.0, 450.0, 500.0], [0.0, 40.0, 80.0, 100.0], [0.0, 5.0, 5.0, 0.0])
    assert not keep_stroke(paused, **LIMITS)


def test_chord_deviation_hand_values() -> None:
    horizontal = Path2(np.arange(4.0), np.array([0.0, 5.0, 7.0, 10.0]), np.array([0.0, 2.0, -3.0, 0.0]))
    assert chord_deviation(horizontal) == pytest.approx(0.3)
    # Chord (6, 8): the point (4, 3) lies |6·3 − 8·4| / 10 = 1.4 px from it, 0.14 chords.
    diagonal = Path2(np.arange(3.0), np.array([0.0, 4.0, 6.0]), np.array([0.0, 3.0, 8.0]))
    assert chord_deviation(diagonal) == pytest.approx(0.14)
    assert stroke([0.0, 1.0], [0.0, 10.0], [0.0, 0.0]).max_deviation == 0.0
    assert stroke([0.0, 1.0], [0.0, 3.0], [0.0, 4.0]).chord_px == 5.0


def test_chord_deviation_of_a_closed_path_is_infinite() -> None:
    assert math.isinf(chord_deviation(Path2(np.arange(3.0), np.array([0.0, 5.0, 0.0]), np.zeros(3))))


def test_movement_gaps_between_moves_and_drags_only() -> None:
    rows = [
        (0.0, "Move", 0, 0),
        (100.0, "Move", 1, 0),
        (150.0, "Pressed", 1, 0),
        (200.0, "Drag", 2, 0),
        (200.0, "Drag", 3, 0),
        (350.0, "Drag", 4, 0),
        (400.0, "Released", 4, 0),
        (900.0, "Move", 5, 0),
        (1500.0, "Move", 6, 0),
    ]
    assert movement_gaps_ms(frame(rows), max_gap_ms=400.0).tolist() == [100.0, 0.0, 150.0]


@pytest.fixture(scope="module")
def session() -> pd.DataFrame:
    return read_session(SESSION)


def test_read_session_of_a_vendored_file(session: pd.DataFrame) -> None:
    assert list(session.columns) == ["t_ms", "button", "state", "x", "y"]
    assert session["t_ms"].dtype == np.float64
    assert len(session) == 13_640
    assert session["t_ms"].iloc[:2].tolist() == pytest.approx([0.0, 110.0])
    assert bool(session["t_ms"].is_monotonic_increasing)
    assert set(session["state"]) == {"Move", "Pressed", "Released", "Drag", "Down", "Up"}
    assert session[["x", "y"]].notna().all().all()


def test_a_vendored_session_cuts_into_strokes_from_time_zero(session: pd.DataFrame) -> None:
    strokes = cut_strokes(session, "user29", "2786719181", max_pause_ms=1000.0)
    assert {s.kind for s in strokes} == {"point", "drag"}
    assert len({s.stroke_id for s in strokes}) == len(strokes)
    for s in strokes:
        assert s.path.t_ms[0] == 0.0
        assert np.all(np.diff(s.path.t_ms) > 0.0)


def test_session_files_are_listed_per_user_in_a_stable_order() -> None:
    files = list(session_files(TRAINING_FILES))
    assert files == sorted(files)
    assert ("user29", SESSION) in files
    assert all(f.parent.name == user and f.name.startswith("session_") for user, f in files)


def test_strokes_round_trip(tmp_path: Path) -> None:
    strokes = cut_strokes(frame(SESSION_ROWS), "user7", "s1", max_pause_ms=1000.0)
    target = tmp_path / "out" / "strokes.parquet"
    write_strokes(strokes, target)
    back = read_strokes(target)
    assert len(back) == 2
    for a, b in zip(strokes, back, strict=True):
        assert (a.stroke_id, a.user, a.session, a.kind, a.pause_before_ms) == (
            b.stroke_id,
            b.user,
            b.session,
            b.kind,
            b.pause_before_ms,
        )
        assert b.path.t_ms.dtype == np.float64
        assert (a.path.t_ms.tolist(), a.path.x.tolist(), a.path.y.tolist()) == (
            b.path.t_ms.tolist(),
            b.path.x.tolist(),
            b.path.y.tolist(),
        )
