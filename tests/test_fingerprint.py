"""Trace fingerprints: a replay of an accepted trace (exact, time-warped, re-targeted onto another perforation)
keeps its key; different real people's strokes never share one."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.config import load_params
from tcurity.data.adapter import to_perforation
from tcurity.data.balabit import Stroke
from tcurity.evaluate.replay import (
    nearest_other_person,
    noisy_replay,
    noisy_replay_distances,
    training_answers,
    training_strokes,
    training_tears,
)
from tcurity.fingerprint import (
    PROFILE_SAMPLES,
    PROFILE_THRESHOLDS,
    SAMPLES,
    fingerprint,
    nearest_distance,
    profile_distance,
    profile_index,
    replay_profile,
    shape_profile,
)
from tcurity.geometry import bend_along, grid_layout, random_perforation, unbend_along
from tcurity.sampling import Path2
from tcurity.simulate.compose import phase_b_trace
from tcurity.simulate.replay import replay_trace
from tcurity.traces import Event, PerforationTask, Trace, TraceArrays, make_trace

TEAR_THRESHOLD = PROFILE_THRESHOLDS["perforation"]
GRID_4PX_REFUSED = 0.6


def _tear(path: Path2, seed: int) -> Trace:
    task = random_perforation(np.random.default_rng(seed))
    return make_trace(to_perforation(path, task), task)


def _bent_task(seed: int) -> PerforationTask:
    rng = np.random.default_rng(seed)
    for _ in range(100):
        task = random_perforation(rng)
        if abs(task.bend) > 0.02:
            return task
    raise AssertionError("no bent perforation drawn")


def test_unbend_inverts_bend() -> None:
    task = _bent_task(3)
    x, y = np.random.default_rng(0).uniform(0, 300, size=(2, 50))
    bx, by = bend_along(task, x, y)
    assert not np.allclose(bx, x)
    ux, uy = unbend_along(task, bx, by)
    np.testing.assert_allclose(ux, x, atol=1e-9)
    np.testing.assert_allclose(uy, y, atol=1e-9)


def test_the_key_is_a_stable_string(human_paths: list[Path2]) -> None:
    trace = _tear(human_paths[0], 1)
    key = fingerprint(trace)
    assert key.startswith("fp1:perforation:") and len(key.split(":")[-1]) == 32
    assert fingerprint(Trace.model_validate_json(trace.model_dump_json())) == key  # through JSON, as sent
    assert shape_profile(trace.arrays(), trace.task).shape == (1, SAMPLES, 2)


@pytest.mark.parametrize(("speed", "warp"), [(1.0, 0.0), (0.8, 0.1), (1.25, -0.15)])
def test_a_replay_onto_another_perforation_keeps_the_key(
    human_paths: list[Path2], speed: float, warp: float
) -> None:
    for seed, path in enumerate(human_paths[:10]):
        accepted = _tear(path, seed)
        task = _bent_task(1000 + seed)
        replayed = make_trace(replay_trace(accepted, task, speed, warp), task)
        assert replayed.task != accepted.task
        assert fingerprint(replayed) == fingerprint(accepted)


def test_a_replay_follows_the_new_perforation(human_paths: list[Path2]) -> None:
    from tcurity.task_checks import check_follow

    accepted = _tear(human_paths[0], 0)
    assert check_follow(accepted.task, accepted.arrays()).passed  # type: ignore[arg-type]
    task = _bent_task(7)
    assert check_follow(task, replay_trace(accepted, task)).passed


def test_different_strokes_differ_and_noisy_replays_match(human_paths: list[Path2]) -> None:
    tears = [_tear(path, i) for i, path in enumerate(human_paths)]
    assert len({fingerprint(t) for t in tears}) == len(human_paths) > 50
    accepted = tears[0]
    rng = np.random.default_rng(0)
    noisy = noisy_replay(accepted, 0.5, rng)
    assert fingerprint(noisy) != fingerprint(accepted)  # the exact key misses it ...
    profile = replay_profile(accepted)
    assert profile is not None and profile.shape == (1, PROFILE_SAMPLES, 2)
    assert profile_distance(replay_profile(noisy), profile) <= TEAR_THRESHOLD  # ... the profile does not
    others = np.stack([replay_profile(t) for t in tears[1:]])
    assert nearest_distance(profile, others) > TEAR_THRESHOLD  # another stroke of the same person


@pytest.fixture(scope="module")
def training_strokes_() -> list[Stroke]:
    return training_strokes(load_params())


@pytest.mark.slow
def test_the_threshold_refuses_noisy_replays_and_spares_other_people(training_strokes_: list[Stroke]) -> None:
    """Measured on the training users' strokes only (a sample): people are rarely refused as replays of each
    other, sub-pixel noise never hides a replay, 2 px hides only part of them (measured rates in
    reports/metrics/replay_profile.json; 4 px lies within the spread of people's own tears)."""
    assert {s.user for s in training_strokes_} == set(load_params().split.train_users)
    tears = training_tears(load_params(), per_user=250, strokes=training_strokes_)
    false_refusals = float(np.mean(nearest_other_person(tears) <= TEAR_THRESHOLD))
    assert false_refusals <= 0.005
    rng = np.random.default_rng(1)
    assert np.mean(noisy_replay_distances(tears, 0.5, rng, 200) <= TEAR_THRESHOLD) >= 0.99
    assert np.mean(noisy_replay_distances(tears, 2.0, rng, 200) <= TEAR_THRESHOLD) >= 0.2


@pytest.mark.slow
def test_grid_answers_of_other_people_pass_and_noisy_copies_do_not(training_strokes_: list[Stroke]) -> None:
    """Phase B answers composed from the training users' strokes as the pipeline composes them."""
    answers = training_answers(load_params(), training_strokes_)
    assert set(answers) == {2, 3, 4}
    rng = np.random.default_rng(2)
    threshold = PROFILE_THRESHOLDS["grid"]
    for humans in answers.values():
        assert float(np.mean(nearest_other_person(humans) <= threshold)) <= 0.005
        assert np.mean(noisy_replay_distances(humans, 0.5, rng, 100) <= threshold) == 1.0
        assert np.mean(noisy_replay_distances(humans, 2.0, rng, 100) <= threshold) >= 0.95
        assert np.mean(noisy_replay_distances(humans, 4.0, rng, 100) <= threshold) >= GRID_4PX_REFUSED


def test_a_profile_ignores_time_warp_and_retargeting(human_paths: list[Path2]) -> None:
    for seed, path in enumerate(human_paths[:10]):
        accepted = _tear(path, seed)
        task = _bent_task(1000 + seed)
        replayed = make_trace(replay_trace(accepted, task, 0.8, 0.15), task)
        assert profile_distance(replay_profile(replayed), replay_profile(accepted)) < 1e-4  # type: ignore[arg-type]


def test_phase_b_keys_ignore_timing_and_tell_answers_apart() -> None:
    task = grid_layout(3)
    trace = phase_b_trace(task, [(0, 0), (4, 1), (8, 2)], "bezier_eased", np.random.default_rng(0))
    slower = type(trace)(trace.x, trace.y, trace.t_ms * 1.3, trace.event)
    assert fingerprint(make_trace(trace, task)) == fingerprint(make_trace(slower, task))
    assert shape_profile(trace, task).shape == (3, SAMPLES, 2)
    other = phase_b_trace(task, [(0, 0), (4, 1), (8, 2)], "bezier_eased", np.random.default_rng(1))
    assert fingerprint(make_trace(other, task)) != fingerprint(make_trace(trace, task))


def test_taps_have_no_key_and_straight_drags_differ_by_place() -> None:
    task = grid_layout(2)
    tap = TraceArrays(
        np.array([0.2, 0.2, 0.5, 0.5]),
        np.array([0.2, 0.2, 0.9, 0.9]),
        np.array([0.0, 80.0, 600.0, 680.0]),
        np.array([Event.DOWN, Event.UP, Event.DOWN, Event.UP], dtype=np.int8),
    )
    assert fingerprint(make_trace(tap, task)) is None
    keys = set()
    for cell in (0, 1, 2):
        straight = phase_b_trace(task, [(cell, 0), (cell + 3, 1)], "linear_steps", np.random.default_rng(0))
        keys.add(fingerprint(make_trace(straight, task)))
    assert len(keys) == 3


def test_only_answers_of_the_right_press_count_have_an_index() -> None:
    task = grid_layout(3)
    rng = np.random.default_rng(0)
    three = make_trace(phase_b_trace(task, [(0, 0), (4, 1), (8, 2)], "windmouse", rng), task)
    two = make_trace(phase_b_trace(task, [(0, 0), (4, 1)], "windmouse", rng), task)
    assert profile_index(three, replay_profile(three)) == "grid:3"  # type: ignore[arg-type]
    assert profile_index(two, replay_profile(two)) is None  # type: ignore[arg-type]


def test_a_tap_among_drags_hides_none_of_them() -> None:
    task = grid_layout(2)
    drags = phase_b_trace(task, [(0, 0), (4, 1)], "windmouse", np.random.default_rng(0))
    second = int(np.flatnonzero(drags.event == Event.DOWN)[1])
    (cx, cy), (sx, sy) = task.cells[4].centre, task.slots[1].centre
    tap = TraceArrays(  # the second drag replaced by a keyboard-like press: down, one move, up
        np.r_[drags.x[:second], cx, sx, sx],
        np.r_[drags.y[:second], cy, sy, sy],
        np.r_[drags.t_ms[:second], drags.t_ms[second] + np.array([0.0, 10.0, 20.0])],
        np.r_[drags.event[:second], [Event.DOWN, Event.MOVE, Event.UP]].astype(np.int8),
    )
    profile = replay_profile(make_trace(tap, task))
    assert profile is not None and profile.shape == (2, PROFILE_SAMPLES, 2)
    np.testing.assert_allclose(profile[0], replay_profile(make_trace(drags, task))[0], atol=1e-6)  # type: ignore[index]
