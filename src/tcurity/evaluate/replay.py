"""How far apart people's movements are, and how near a noisy replay stays: the replay profile's threshold.

:func:`measure_replay_profile` maps the *training* users' clean strokes onto random perforations (as the data
pipeline does), and measures, in :func:`tcurity.fingerprint.profile_distance`:

- for every tear, the distance to the nearest tear of *another* training user: the threshold must stay below
  nearly all of these, or people are refused as replays of each other (the false-refusal rate);
- for a sample of tears, the distance of a replay re-targeted onto a new perforation, time-warped, and with
  Gaussian noise of 0.5, 2 and 4 px on every point: the share below the threshold is the refusal rate.

The threshold is the ``frr`` quantile of the first set. The result is written to
``reports/metrics/replay_profile.json`` (``python -m tcurity.evaluate.replay``), and the value goes into
:data:`tcurity.fingerprint.PROFILE_THRESHOLD` by hand: the backend must not read training data or reports.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.data.adapter import to_perforation
from tcurity.data.balabit import cut_strokes, keep_within, read_session, session_files
from tcurity.fingerprint import PROFILE_THRESHOLD, nearest_distance, replay_profile
from tcurity.geometry import check_follow, random_perforation
from tcurity.simulate.replay import SPEED_FACTOR, WARP_AMPLITUDE, replay_trace
from tcurity.traces import Trace, make_trace

logger = logging.getLogger(__name__)

NOISE_PX: tuple[float, ...] = (0.5, 2.0, 4.0)
REPORT = Path("reports/metrics/replay_profile.json")


@dataclass(frozen=True)
class HumanTears:
    """Training users' tears on random perforations, with their replay profiles."""

    traces: list[Trace]
    users: NDArray[np.str_]
    profiles: NDArray[np.float32]  # (n, 1, samples, 2)


def training_tears(p: Params, per_user: int | None = None, seed: int = 0) -> HumanTears:
    """The clean strokes of ``split.train_users`` (never another split's) as tears that pass the geometry check;
    at most ``per_user`` of each user (seeded choice) when given."""
    rng = np.random.default_rng(seed)
    traces: list[Trace] = []
    users: list[str] = []
    for user, file in session_files(resolve(p.data.balabit_dir)):
        if user not in p.split.train_users:
            continue
        for stroke in cut_strokes(read_session(file), user, file.stem, p.prepare_humans.max_pause_ms):
            if not keep_within(stroke, p.prepare_humans):
                continue
            task = random_perforation(rng)
            arrays = to_perforation(stroke.path, task)
            if check_follow(task, arrays).passed:
                traces.append(make_trace(arrays, task))
                users.append(user)
    keep = [i for i, t in enumerate(traces) if replay_profile(t) is not None]
    if per_user is not None:
        keep = _cap_per_user(keep, users, per_user, rng)
    traces, users = [traces[i] for i in keep], [users[i] for i in keep]
    profiles = np.stack([replay_profile(t) for t in traces])  # type: ignore[misc]
    return HumanTears(traces, np.array(users), profiles)


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
    """Distances from ``count`` tears to their replays onto new perforations: time-warped, ``noise_px`` of
    Gaussian noise on every point."""
    out = []
    for i in rng.choice(len(tears.traces), min(count, len(tears.traces)), replace=False):
        profile = replay_profile(noisy_replay(tears.traces[i], noise_px, rng))
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
    """The human-to-human distances, the threshold at the ``frr`` quantile, and noisy replays' refusal rates
    at that threshold and at the one in use (:data:`~tcurity.fingerprint.PROFILE_THRESHOLD`)."""
    tears = training_tears(p, per_user, seed)
    nearest = nearest_other_person(tears)
    threshold = float(np.quantile(nearest, frr))
    rng = np.random.default_rng(seed + 1)
    noise = {f"{s:g}px": noisy_replay_distances(tears, s, rng, replays) for s in NOISE_PX}
    return {
        "users": sorted(set(tears.users.tolist())),
        "tears": len(tears.traces),
        "nearest_other_person": {
            f"q{q:g}": float(np.quantile(nearest, q)) for q in (0.001, 0.005, 0.01, 0.5)
        },
        "target_frr": frr,
        "measured_threshold": threshold,
        "threshold_in_use": PROFILE_THRESHOLD,
        "false_refusal_rate": float(np.mean(nearest < PROFILE_THRESHOLD)),
        "replay_refusal_rate": {k: float(np.mean(d < PROFILE_THRESHOLD)) for k, d in noise.items()},
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
