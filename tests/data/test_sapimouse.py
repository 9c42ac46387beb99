"""SapiMouse: reading a session file, cutting it with the shared cutter, and the split by person."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tcurity.config import PROJECT_ROOT, load_params
from tcurity.data import balabit
from tcurity.data.sapimouse import (
    SPLITS,
    cut_sessions,
    median_gap_ms,
    rate_class,
    read_session,
    session_files,
    split_users,
    user_rate_classes,
)
from tcurity.data.strokes import cut_strokes

SAPIMOUSE = PROJECT_ROOT / "data/raw/sapimouse"

# A hand-made session in SapiMouse's format: integer ms, no record timestamp.
CSV = """client timestamp,button,state,x,y
1000,NoButton,Move,10,10
1016,NoButton,Move,12,10
1033,NoButton,Move,14,10
1600,NoButton,Move,100,200
1617,NoButton,Move,110,204
1633,NoButton,Move,130,210
1633,NoButton,Move,134,212
1650,Left,Pressed,140,212
1667,Left,Drag,150,220
1683,Left,Drag,160,230
1700,Left,Drag,170,240
1716,Left,Released,172,241
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def test_read_session_gives_the_shared_frame(tmp_path: Path) -> None:
    frame = read_session(_write(tmp_path / "s.csv.gz", CSV))
    assert list(frame.columns) == ["t_ms", "button", "state", "x", "y"]
    assert frame["t_ms"].dtype == np.float64
    assert frame["t_ms"].tolist()[:3] == [1000.0, 1016.0, 1033.0]
    assert frame["state"].tolist()[7] == "Pressed"


def test_read_session_refuses_other_columns(tmp_path: Path) -> None:
    balabit_like = "record timestamp,client timestamp,button,state,x,y\n0,0,NoButton,Move,1,1\n"
    with pytest.raises(ValueError, match="5 SapiMouse columns"):
        read_session(_write(tmp_path / "b.csv.gz", balabit_like))


def test_a_hand_made_session_cuts_into_one_stroke_and_one_drag_with_its_timing(tmp_path: Path) -> None:
    frame = read_session(_write(tmp_path / "s.csv.gz", CSV))
    point, drag = cut_strokes(frame, "sapi_user1", "d_1min", max_pause_ms=400.0)
    assert (point.stroke_id, point.kind, drag.stroke_id, drag.kind) == (
        "sapi_user1-d_1min-00000",
        "point",
        "sapi_user1-d_1min-00001",
        "drag",
    )
    # The run after the 567 ms rest; the two events at 1633 ms merge into their mean position.
    assert point.pause_before_ms == 567.0
    assert point.path.t_ms.tolist() == [0.0, 17.0, 33.0, 50.0]
    assert point.path.x.tolist() == [100.0, 110.0, 132.0, 140.0]
    assert point.path.y.tolist() == [200.0, 204.0, 211.0, 212.0]
    assert drag.path.t_ms.tolist() == [0.0, 17.0, 33.0, 50.0, 66.0]
    assert drag.path.x.tolist() == [140.0, 150.0, 160.0, 170.0, 172.0]


def test_sapimouse_and_balabit_share_one_cutter() -> None:
    assert balabit.cut_strokes is cut_strokes


def test_session_files_are_prefixed_and_in_numeric_order(tmp_path: Path) -> None:
    for folder in ("user10", "user2"):
        _write(tmp_path / folder / "session_2020_05_14_3min.csv.gz", CSV)
        _write(tmp_path / folder / "session_2020_05_14_1min.csv.gz", CSV)
    listed = [(u, s) for u, s, _ in session_files(tmp_path)]
    assert listed == [
        ("sapi_user2", "2020_05_14_1min"),
        ("sapi_user2", "2020_05_14_3min"),
        ("sapi_user10", "2020_05_14_1min"),
        ("sapi_user10", "2020_05_14_3min"),
    ]
    strokes = list(cut_sessions(tmp_path, 400.0, users={"sapi_user10"}))
    assert [s.stroke_id for s in strokes] == [
        "sapi_user10-2020_05_14_1min-00000",
        "sapi_user10-2020_05_14_1min-00001",
        "sapi_user10-2020_05_14_3min-00000",
        "sapi_user10-2020_05_14_3min-00001",
    ]


def test_median_gap_leaves_zero_gaps_and_pauses_out(tmp_path: Path) -> None:
    frame = read_session(_write(tmp_path / "s.csv.gz", CSV))
    # Movement gaps up to 400 ms: 16, 17, (567 left out), 17, 16, 0 (left out), 17, 16 → median 16.5.
    assert median_gap_ms(frame) == 16.5
    assert rate_class([8.0, 7.0]) == "high"
    assert rate_class([8.0, 17.0]) == "standard"
    assert rate_class([10.0]) == "high"
    assert rate_class([]) == "standard"


def test_split_users_hand_example() -> None:
    strata = {f"u{i}": "a" for i in range(1, 11)} | {"h1": "b", "h2": "b"}
    fractions = {"train": 0.5, "calib": 0.2, "test": 0.2, "attacker": 0.1}
    split = split_users(strata, fractions, seed=0)
    # Stratum a (10 users): 5 / 2 / 2 / 1; stratum b (2 users): 1.0 / 0.4 / 0.4 / 0.2 → 1 / 1 / 0 / 0
    # (the largest remainders 0.4 and 0.4 tie, the earlier set wins).
    assert [len(split[s]) for s in SPLITS] == [6, 3, 2, 1]
    assert sorted(u for s in SPLITS for u in split[s]) == sorted(strata)
    assert split == split_users(strata, fractions, seed=0)
    assert split != split_users(strata, fractions, seed=1)
    assert {strata[u] for u in split["train"]} == {"a", "b"}


def test_split_users_refuses_bad_fractions() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        split_users({"u": "a"}, {"train": 0.5, "calib": 0.2, "test": 0.2, "attacker": 0.2}, 0)
    with pytest.raises(ValueError, match="must give"):
        split_users({"u": "a"}, {"train": 1.0}, 0)


@pytest.fixture(scope="module")
def rate_classes() -> dict[str, str]:
    return dict(user_rate_classes(SAPIMOUSE))


def test_the_params_split_is_the_dealt_one_and_no_user_is_on_two_sides(rate_classes: dict[str, str]) -> None:
    p = load_params()
    s = p.sapimouse_split
    lists = {name: getattr(s, f"{name}_users") for name in SPLITS}
    assert s.disjoint()
    assert sorted(u for users in lists.values() for u in users) == sorted(rate_classes)
    assert lists == split_users(rate_classes, s.fractions, s.seed)
    assert len(rate_classes) == 120
    for name in SPLITS:  # both recording rates in every set
        assert {rate_classes[u] for u in lists[name]} == {"high", "standard"}, name
    # No SapiMouse user shares a name with a Balabit user: one person is never two.
    balabit_users = set(
        p.split.train_users + p.split.calib_users + p.split.test_users + p.split.attacker_users
    )
    assert not balabit_users & set(rate_classes)
    assert p.split.disjoint()


def test_the_vendored_data_set_is_complete() -> None:
    files = list(session_files(SAPIMOUSE))
    assert len(files) == 245
    assert len({u for u, _, _ in files}) == 120
    first = read_session(files[0][2])
    assert set(first["state"]) <= {"Move", "Pressed", "Drag", "Released"}
