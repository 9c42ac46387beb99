"""How far apart people's movements are, and how near a noisy replay stays: the replay profile's threshold.

:func:`measure_replay_profile` maps the *training* users' clean strokes onto random perforations (as the data
pipeline does), and measures, in :func:`tcurity.fingerprint.profile_distance`:

- for every tear, the distance to the nearest tear of *another* training user: the threshold must stay below
  nearly all of these, or people are refused as replays of each other (the false-refusal rate);
- for a sample of tears, the distance of a replay re-targeted onto a new perforation, time-warped, and with
  Gaussian noise of 0.5, 2 and 4 px on every point: the share below the threshold is the refusal rate.

The threshold is the ``frr`` quantile of the first set. The result is written to
``reports/metrics/replay_profile.json`` (``python -m tcurity.evaluate.replay``), and the value goes into
:data:`tcurity.fingerprint.PROFILE_THRESHOLDS` by hand: the backend must not read training data or reports.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.data.adapter import GridComposition, SessionStrokes, press_hold_ms, to_grid, to_perforation
from tcurity.data.balabit import Stroke, cut_strokes, keep_within, read_session, session_files
from tcurity.fingerprint import PROFILE_THRESHOLDS, nearest_distance, profile_threshold, replay_profile
from tcurity.geometry import random_grid_answer, random_perforation
from tcurity.simulate.replay import SPEED_FACTOR, WARP_AMPLITUDE, replay_trace
from tcurity.task_checks import check_follow
from tcurity.traces import PerforationTask, Trace, make_trace

logger = logging.getLogger(__name__)

NOISE_PX: tuple[float, ...] = (0.5, 2.0, 4.0)
REPORT = Path("reports/metrics/replay_profile.json")


@dataclass(frozen=True)
class HumanTears:
    """Training users' tears on random perforations, with their replay profiles."""

    traces: list[Trace]
    users: NDArray[np.str_]
    profiles: NDArray[np.float32]  # (n, 1, samples, 2)


def training_strokes(p: Params) -> list[Stroke]:
    """The clean strokes (``prepare_humans`` limits) of ``split.train_users``, never another split's, in
    recording order."""
    strokes: list[Stroke] = []
    for user, file in session_files(resolve(p.data.balabit_dir)):
        if user in p.split.train_users:
            cut = cut_strokes(read_session(file), user, file.stem, p.prepare_humans.max_pause_ms)
            strokes += [s for s in cut if keep_within(s, p.prepare_humans)]
    return strokes


def training_tears(
    p: Params, per_user: int | None = None, seed: int = 0, strokes: list[Stroke] | None = None
) -> HumanTears:
    """The training users' strokes as tears on random perforations that pass the geometry check; at most
    ``per_user`` of each user (seeded choice) when given."""
    rng = np.random.default_rng(seed)
    traces: list[Trace] = []
    users: list[str] = []
    for stroke in training_strokes(p) if strokes is None else strokes:
        task = random_perforation(rng)
        arrays = to_perforation(stroke.path, task)
        if check_follow(task, arrays).passed:
            traces.append(make_trace(arrays, task))
            users.append(stroke.user)
    keep = [i for i, t in enumerate(traces) if replay_profile(t) is not None]
    if per_user is not None:
        keep = _cap_per_user(keep, users, per_user, rng)
    traces, users = [traces[i] for i in keep], [users[i] for i in keep]
    profiles = np.stack([replay_profile(t) for t in traces])  # type: ignore[misc]
    return HumanTears(traces, np.array(users), profiles)


def training_answers(p: Params, strokes: list[Stroke], seed: int = 0) -> dict[int, HumanTears]:
    """The training users' Phase B answers, composed as the data pipeline composes them (consecutive strokes
    of one session, :func:`tcurity.data.adapter.to_grid`), by number of targets."""
    rng = np.random.default_rng(seed)
    cfg = p.prepare_phase_b
    composition = GridComposition(cfg.max_pause_ms, cfg.max_scale_ratio, cfg.target_spread)
    holds: dict[str, list[float]] = defaultdict(list)
    groups: dict[tuple[str, str], list[Stroke]] = defaultdict(list)
    for s in strokes:
        groups[(s.user, s.session)].append(s)
        if s.kind == "drag":
            holds[s.user].append(press_hold_ms(s.path))
    by_n: dict[int, tuple[list[Trace], list[str]]] = defaultdict(lambda: ([], []))
    for (user, _), group in sorted(groups.items()):
        pool = SessionStrokes(list(group), holds[user])
        while True:
            task, moves = random_grid_answer(rng, 2, 4)
            if sum(s.kind == "point" for s in pool.strokes) < 2 * len(moves):
                break
            trace = make_trace(to_grid(pool, task, moves, rng, composition), task)
            if replay_profile(trace) is not None:
                by_n[len(moves)][0].append(trace)
                by_n[len(moves)][1].append(user)
    return {
        n: HumanTears(traces, np.array(users), np.stack([replay_profile(t) for t in traces]))  # type: ignore[misc]
        for n, (traces, users) in sorted(by_n.items())
    }


def noisy_copy(accepted: Trace, noise_px: float, rng: np.random.Generator) -> Trace:
    """``accepted`` with Gaussian noise of ``noise_px`` on every point (a Phase B replay: the profile is that of
    each drag in its own frame, so moving drags onto other cells changes nothing)."""
    arrays = accepted.arrays()
    w, h = accepted.task.area_px
    arrays.x[:] += rng.normal(0.0, noise_px, len(arrays.x)) / w
    arrays.y[:] += rng.normal(0.0, noise_px, len(arrays.y)) / h
    return make_trace(arrays, accepted.task)


def _cap_per_user(keep: list[int], users: list[str], cap: int, rng: np.random.Generator) -> list[int]:
    out: list[int] = []
    for user in sorted(set(users)):
        mine = [i for i in keep if users[i] == user]
        out += sorted(rng.choice(mine, min(cap, len(mine)), replace=False).tolist())
    return out


def nearest_other_person(tears: HumanTears) -> NDArray[np.float64]:
    """Each tear's distance to the nearest tear of another user."""
    return np.array(
        [
            nearest_distance(tears.profiles[i], tears.profiles[tears.users != u])
            for i, u in enumerate(tears.users)
        ]
    )


def noisy_replay_distances(
    tears: HumanTears, noise_px: float, rng: np.random.Generator, count: int
) -> NDArray[np.float64]:
    """Distances from ``count`` traces to their noisy replays (:func:`noisy_replay` for tears, re-targeted and
    time-warped too; :func:`noisy_copy` for grid answers)."""
    out = []
    for i in rng.choice(len(tears.traces), min(count, len(tears.traces)), replace=False):
        accepted = tears.traces[i]
        copy = noisy_replay if isinstance(accepted.task, PerforationTask) else noisy_copy
        profile = replay_profile(copy(accepted, noise_px, rng))
        out.append(float("inf") if profile is None else nearest_distance(profile, tears.profiles[i][None]))
    return np.array(out)


def noisy_replay(accepted: Trace, noise_px: float, rng: np.random.Generator) -> Trace:
    """``accepted`` re-targeted onto a fresh perforation, time-warped, with Gaussian noise on every point."""
    task = random_perforation(rng)
    speed, warp = rng.uniform(*SPEED_FACTOR), rng.uniform(-WARP_AMPLITUDE, WARP_AMPLITUDE)
    arrays = replay_trace(accepted, task, speed, warp)
    w, h = task.area_px
    arrays.x[:] += rng.normal(0.0, noise_px, len(arrays.x)) / w
    arrays.y[:] += rng.normal(0.0, noise_px, len(arrays.y)) / h
    return make_trace(arrays, task)


def measure_replay_profile(
    p: Params, frr: float = 0.004, per_user: int | None = None, replays: int = 500, seed: int = 0
) -> dict[str, object]:
    """The human-to-human distances, the threshold at the ``frr`` quantile of the tears', and the false and
    replay refusal rates at the threshold in use (:data:`~tcurity.fingerprint.PROFILE_THRESHOLDS`), for tears
    and for grid answers of every target count."""
    strokes = training_strokes(p)
    tears = training_tears(p, per_user, seed, strokes)
    nearest = nearest_other_person(tears)
    rng = np.random.default_rng(seed + 1)
    report: dict[str, object] = {
        "users": sorted(set(tears.users.tolist())),
        "target_frr": frr,
        "measured_threshold": float(np.quantile(nearest, frr)),  # tears'; grid answers' quantiles below
        "thresholds_in_use": PROFILE_THRESHOLDS,
        "perforation": _rates(tears, nearest, rng, replays),
    }
    for n, answers in training_answers(p, strokes, seed).items():
        report[f"grid_{n}"] = _rates(answers, nearest_other_person(answers), rng, replays)
    return report


def _rates(
    humans: HumanTears, nearest: NDArray[np.float64], rng: np.random.Generator, replays: int
) -> dict[str, object]:
    noise = {f"{s:g}px": noisy_replay_distances(humans, s, rng, replays) for s in NOISE_PX}
    threshold = profile_threshold(humans.traces[0].task)
    return {
        "traces": len(humans.traces),
        "nearest_other_person": {
            f"q{q:g}": float(np.quantile(nearest, q)) for q in (0.001, 0.005, 0.01, 0.5)
        },
        "false_refusal_rate": float(np.mean(nearest <= threshold)),
        "replay_refusal_rate": {k: float(np.mean(d <= threshold)) for k, d in noise.items()},
        "replay_distance_median": {k: float(np.median(d)) for k, d in noise.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPORT, help="where the JSON report goes")
    args = parser.parse_args()
    setup_logging()
    report = measure_replay_profile(load_params())
    resolve(args.out).parent.mkdir(parents=True, exist_ok=True)
    resolve(args.out).write_text(json.dumps(report, indent=2) + "\n")
    logger.info("replay profile: %s", json.dumps(report))


if __name__ == "__main__":
    main()
