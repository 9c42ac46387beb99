"""DVC stage ``prepare_phase_b``: whole Phase B answers by people and by every bot family.

Outputs (``params.yaml: prepare_phase_b.out_dir``):
- ``humans.parquet``: answers composed from the strokes of one person's session at a time, in recording order
  (:func:`tcurity.data.adapter.to_grid`); attacker users are left out, and each answer keeps its user's split;
- ``bots.parquet``: every family of :data:`tcurity.simulate.FAMILIES` answering correctly (solver bots know the
  answer), split ``train`` (what the Random Forest learns from) and ``test`` (evaluation only), drawn from
  different seeds. Replays re-use the attacker users' strokes: training bots those of the attackers'
  even-numbered sessions, evaluation bots the odd-numbered ones, so no evaluated replay re-uses a stroke the
  model learned from;
- ``bots_scripted_waits.parquet``: evaluation bots of every family with a script's human-like waits around
  the tool's moves (:data:`tcurity.simulate.motion.SCRIPTED_WAITS`)
- ``bots_human_sampling.parquet``: the evaluation bots re-emitted with the humans' measured sampling process
  (every approach and drag; presses and releases kept exact), to show that no family passes merely by being
  recorded the way the human data were.

Every answer is a random layout of ``problems.min_targets``–``max_targets`` targets, as the generator serves.
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.data.adapter import GridComposition, SessionStrokes, press_hold_ms, to_grid
from tcurity.data.balabit import Stroke, read_strokes
from tcurity.datasets import TraceRecord, write_traces
from tcurity.features.phase_b import answer_segments
from tcurity.geometry import GridMove, random_grid_answer
from tcurity.sampling import HumanSampler, Path2
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import phase_b_trace
from tcurity.simulate.fitted import BotModel, load_bot_models
from tcurity.simulate.motion import SCRIPTED_WAITS
from tcurity.traces import Event, GridTask, TraceArrays

logger = logging.getLogger("pipelines.prepare_phase_b")

# Seeds are base.seed plus these offsets: humans, training bots and evaluation bots never share a stream.
HUMAN_SEED, TRAIN_BOT_SEED, TEST_BOT_SEED, HUMAN_SAMPLING_SEED, SCRIPTED_WAITS_SEED = 10, 11, 12, 13, 14
# A replayed stroke fits a movement within this length ratio (as the Phase A replay bot picks its sources).
REPLAY_FIT = (0.7, 1.4)


def target_range(p: Params) -> tuple[int, int]:
    """How many targets a served problem has (``params.yaml: problems``)."""
    problems = (p.model_extra or {})["problems"]
    return int(problems["min_targets"]), int(problems["max_targets"])


def sessions(strokes: list[Stroke]) -> dict[tuple[str, str], list[Stroke]]:
    """Strokes grouped by ``(user, session)``, each group in recording order."""
    groups: dict[tuple[str, str], list[Stroke]] = defaultdict(list)
    for s in strokes:
        groups[(s.user, s.session)].append(s)
    return {key: sorted(group, key=lambda s: s.stroke_id) for key, group in sorted(groups.items())}


def press_holds_ms(strokes: list[Stroke], p: Params) -> dict[str, list[float]]:
    """Each non-attacker user's holds between pressing and moving off in their recorded drags (every user's,
    for a user who recorded no drag): :func:`tcurity.data.adapter.press_hold_ms` of each drag."""
    holds: dict[str, list[float]] = defaultdict(list)
    for s in strokes:
        if s.kind == "drag" and s.user not in p.split.attacker_users:
            holds[s.user].append(press_hold_ms(s.path))
    everyone = [h for user_holds in holds.values() for h in user_holds]
    return defaultdict(lambda: everyone, holds)


def human_records(strokes: list[Stroke], p: Params) -> list[TraceRecord]:
    """Answers composed from every non-attacker session until it runs out of strokes."""
    cfg = p.prepare_phase_b
    composition = GridComposition(cfg.max_pause_ms, cfg.max_scale_ratio, cfg.target_spread)
    rng = np.random.default_rng(p.base.seed + HUMAN_SEED)
    low, high = target_range(p)
    holds = press_holds_ms(strokes, p)
    records: list[TraceRecord] = []
    for (user, session), group in tqdm(sessions(strokes).items(), desc="human sessions", unit="session"):
        split = p.split.split_of(user)
        if split == "attacker":
            continue
        pool = SessionStrokes(list(group), holds[user])
        n = 0
        while True:
            task, moves = random_grid_answer(rng, low, high)
            # Two pointing strokes per target at most (a drag may fall back to one); stop before running dry.
            if sum(s.kind == "point" for s in pool.strokes) < 2 * len(moves):
                break
            arrays = to_grid(pool, task, moves, rng, composition)
            records.append(
                TraceRecord(f"{user}-{session}-b{n:04d}", "human", "human", user, split, task, arrays)
            )
            n += 1
    return records


def movement_lengths_px(task: GridTask, moves: list[GridMove]) -> list[float | None]:
    """The length of every movement a bot makes, centre to centre (``None``: the first approach, whose
    starting point the simulator draws itself)."""
    w, h = task.area_px

    def centre(kind: str, i: int) -> np.ndarray:
        rect = task.cells[i] if kind == "cell" else task.slots[i]
        return np.array([rect.centre[0] * w, rect.centre[1] * h])

    points = [p for cell, slot in moves for p in (centre("cell", cell), centre("slot", slot))]
    return [None] + [float(np.hypot(*(b - a))) for a, b in pairwise(points)]


def replay_sources(
    sources: list[Stroke], lengths: list[float | None], rng: np.random.Generator
) -> list[Path2]:
    """One recorded stroke per movement, of about its length when one fits (as a careful attacker picks)."""
    picked = []
    for length in lengths:
        fitting = [
            s for s in sources if length is None or REPLAY_FIT[0] <= s.chord_px / length <= REPLAY_FIT[1]
        ] or sources
        picked.append(fitting[int(rng.integers(len(fitting)))].path)
    return picked


def bot_records(
    name: str,
    n: int,
    split: str,
    rng: np.random.Generator,
    sources: list[Stroke],
    p: Params,
    scripted_waits: float = 0.0,
    models: dict[str, BotModel] | None = None,
) -> list[TraceRecord]:
    """``n`` correct answers of one family; a ``scripted_waits`` share of them with a script's human-like waits
    around the tool's moves (``-sw`` in their ids). Fitted families draw from their model in ``models``."""
    low, high = target_range(p)
    model = (models or {}).get(name)
    records = []
    for i in range(n):
        task, moves = random_grid_answer(rng, low, high)
        paths = (
            replay_sources(sources, movement_lengths_px(task, moves), rng)
            if FAMILIES[name].needs_source
            else None
        )
        waits = scripted_waits > 0.0 and rng.random() < scripted_waits
        arrays = phase_b_trace(
            task, moves, name, rng, sources=paths, timing=SCRIPTED_WAITS if waits else None, model=model
        )
        trace_id = f"{name}-{split}-{i:05d}{'-sw' if waits else ''}"
        records.append(TraceRecord(trace_id, "bot", name, "", split, task, arrays))
    return records


def attacker_sources(strokes: list[Stroke], p: Params) -> dict[str, list[Stroke]]:
    """The attacker users' strokes, even-numbered sessions for training bots and odd ones for evaluation."""
    out: dict[str, list[Stroke]] = {"train": [], "test": []}
    by_user: dict[str, list[str]] = defaultdict(list)
    for user, session in sessions(strokes):
        by_user[user].append(session)
    for s in strokes:
        if s.user in p.split.attacker_users:
            out["train" if by_user[s.user].index(s.session) % 2 == 0 else "test"].append(s)
    return out


def with_human_sampling(record: TraceRecord, sampler: HumanSampler, rng: np.random.Generator) -> TraceRecord:
    """The same answer with every approach and drag re-emitted as the human recordings were sampled.

    Presses and releases stay where and when they were; a rest between movements stays without events.
    """
    assert isinstance(record.task, GridTask)
    a = record.arrays
    seg = answer_segments(record.task, a)
    parts: list[tuple[Path2, int, int]] = []
    for start, down, up in zip(seg.approach_starts, seg.downs, seg.ups, strict=True):
        parts.append(
            (Path2(a.t_ms[start : down + 1], a.x[start : down + 1], a.y[start : down + 1]), 0, Event.DOWN)
        )
        parts.append((Path2(a.t_ms[down : up + 1], a.x[down : up + 1], a.y[down : up + 1]), 1, Event.UP))
    t, x, y, event = [], [], [], []
    for path, skip, last in parts:
        resampled = sampler.resample(path, rng)
        codes = np.full(len(resampled), Event.MOVE, dtype=np.int8)
        codes[-1] = last
        t.append(resampled.t_ms[skip:])
        x.append(resampled.x[skip:])
        y.append(resampled.y[skip:])
        event.append(codes[skip:])
    arrays = TraceArrays(np.concatenate(x), np.concatenate(y), np.concatenate(t), np.concatenate(event))
    return TraceRecord(
        record.trace_id + "-hs", "bot", record.family, record.user, record.split, record.task, arrays
    )


def prepare_phase_b(p: Params) -> dict[str, object]:
    """Runs the stage; returns counts of what it wrote."""
    cfg = p.prepare_phase_b
    strokes = read_strokes(resolve(p.prepare_humans.out_dir) / "strokes.parquet")
    humans = human_records(strokes, p)
    sources = attacker_sources(strokes, p)
    models = load_bot_models(resolve(p.fit_bot_models.out_dir))
    bots: list[TraceRecord] = []
    for split, n, offset, waits in (
        ("train", cfg.train_bots_per_family, TRAIN_BOT_SEED, cfg.train_scripted_waits),
        ("test", cfg.test_bots_per_family, TEST_BOT_SEED, 0.0),
    ):
        rng = np.random.default_rng(p.base.seed + offset)
        for name in tqdm(sorted(FAMILIES), desc=f"{split} bots", unit="family"):
            bots.extend(bot_records(name, n, split, rng, sources[split], p, waits, models))
    out = resolve(cfg.out_dir)
    write_traces(humans, out / "humans.parquet")
    write_traces(bots, out / "bots.parquet")
    sampler = HumanSampler.load(resolve(p.prepare_humans.sampler_path))
    rng = np.random.default_rng(p.base.seed + HUMAN_SAMPLING_SEED)
    resampled = [with_human_sampling(r, sampler, rng) for r in bots if r.split == "test"]
    write_traces(resampled, out / "bots_human_sampling.parquet")
    # The evaluation bots' families again, from their own seed, all with a script's human-like waits: reported
    # beside the gated metrics (``scripted_waits``), never gated (the champion's metrics hold no such set).
    rng = np.random.default_rng(p.base.seed + SCRIPTED_WAITS_SEED)
    waiting = [
        TraceRecord(r.trace_id + "-sw", r.source, r.family, r.user, r.split, r.task, r.arrays)
        for name in sorted(FAMILIES)
        for r in bot_records(
            name, cfg.test_bots_per_family // 4, "test", rng, sources["test"], p, 1.0, models
        )
    ]
    write_traces(waiting, out / "bots_scripted_waits.parquet")
    summary: dict[str, object] = {
        "humans_by_split": {s: sum(r.split == s for r in humans) for s in ("train", "calib", "test")},
        "humans_by_user": {u: sum(r.user == u for r in humans) for u in sorted({r.user for r in humans})},
        "bots_by_split": {s: sum(r.split == s for r in bots) for s in ("train", "test")},
    }
    logger.info("prepared phase B traces: %s", summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    prepare_phase_b(p)


if __name__ == "__main__":
    main()
