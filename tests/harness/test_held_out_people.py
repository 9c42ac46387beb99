"""The red team's held-out people (redteam/humans.py) tear as the SDK records a person: their own approach to the
grip first, then the tear."""

from __future__ import annotations

import numpy as np
import pytest

from redteam.humans import HeldOutPeople
from tcurity.config import params
from tcurity.features.approach import approach_path
from tcurity.geometry import random_perforation
from tcurity.task_checks import check_follow
from tcurity.traces import Event, make_trace


def test_a_held_out_persons_tear_comes_after_their_own_approach_to_the_grip() -> None:
    p = params()
    user = sorted(p.sapimouse_split.test_users)[0]
    people = HeldOutPeople(p, [user], seed=0)
    task = random_perforation(np.random.default_rng(0))
    arrays = people.tear(task)
    make_trace(arrays, task)  # in the schema
    down = int(np.flatnonzero(arrays.event == Event.DOWN)[0])
    assert down >= 2 and np.all(arrays.event[:down] == Event.MOVE)
    w, h = task.area_px
    # The approach ends where the press is, on the grip, and the layers can judge it.
    assert (arrays.x[down] * w, arrays.y[down] * h) == pytest.approx((task.start.x * w, task.start.y * h))
    limits = p.featurize.approach
    assert approach_path(arrays, task.area_px, limits) is not None
    assert check_follow(task, arrays).passed
