"""DVC stage ``prepare_humans``: real human movements cut from SapiMouse and Balabit, mapped onto Phase A.

Outputs (``params.yaml: prepare_humans``):
- ``strokes.parquet``: every clean Balabit movement (all users, screen pixels) — Phase B reads it;
- ``sapimouse_strokes.parquet``: every clean SapiMouse movement (all users) — the Phase A replay bot replays its
  attacker users;
- ``phase_a.parquet``: the movements of non-attacker people as Phase A traces on random perforations, kept when
  they pass the geometry check a live tear must pass, each after an *approach*: another pointing stroke of the same
  person, ending on the grip (:mod:`tcurity.data.approaches`);
- ``approaches.parquet``: up to ``prepare_humans.approach.max_per_user`` pointing strokes of each of those people, as
  the approach layers judge them: what those layers learn and calibrate on. SapiMouse people are the ``train``/``calib``/``test``
  splits; Balabit people, the second population, are ``balabit_train``/``balabit_calib``/``balabit_test``
  (:mod:`tcurity.data.populations`, ``docs/data.md``);
- the humans' sampling process (``sampler_path``) fitted on Balabit's training users' ~9 Hz sessions.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.data import sapimouse
from tcurity.data.adapter import to_perforation, with_approach
from tcurity.data.approaches import ApproachPool
from tcurity.data.balabit import (
    Stroke,
    cut_strokes,
    keep_within,
    movement_gaps_ms,
    read_session,
    session_files,
    write_strokes,
)
from tcurity.data.populations import phase_a_split, population_of
from tcurity.datasets import TraceRecord, write_traces
from tcurity.geometry import random_perforation
from tcurity.sampling import HumanSampler
from tcurity.task_checks import check_follow

logger = logging.getLogger("pipelines.prepare_humans")

SPARSE_SESSION_MIN_GAP_MS = 50.0


def collect_strokes(p: Params, approaches: ApproachPool) -> tuple[list[Stroke], np.ndarray]:
    """Clean strokes of every user (capped per user, seeded) and the training users' sampling gaps; every pointing
    stroke that may serve as an approach goes into ``approaches``."""
    cfg = p.prepare_humans
    by_user: dict[str, list[Stroke]] = defaultdict(list)
    gaps: list[np.ndarray] = []
    files = list(session_files(resolve(p.data.balabit_dir)))
    for user, file in tqdm(files, desc="sessions", unit="session"):
        frame = read_session(file)
        session_gaps = movement_gaps_ms(frame, p.sampling.max_gap_ms)
        # Some sessions were recorded at ~60 Hz, most at ~9 Hz over remote desktop: the sampler models the
        # latter, the coarse process every trace must survive (docs/sampling.md).
        if user in p.split.train_users and np.median(session_gaps) >= SPARSE_SESSION_MIN_GAP_MS:
            gaps.append(session_gaps)
        for stroke in cut_strokes(frame, user, file.stem.removeprefix("session_"), cfg.max_pause_ms):
            approaches.offer(stroke)
            if keep_within(stroke, cfg):
                by_user[user].append(stroke)
    return capped(by_user, cfg.max_strokes_per_user, np.random.default_rng(p.base.seed)), np.concatenate(gaps)


def capped(by_user: dict[str, list[Stroke]], cap: int, rng: np.random.Generator) -> list[Stroke]:
    """Every user's strokes, users in sorted order, at most ``cap`` of each (a seeded pick, order kept)."""
    strokes: list[Stroke] = []
    for user in sorted(by_user):
        kept = by_user[user]
        if len(kept) > cap:
            pick = np.sort(rng.choice(len(kept), cap, replace=False))
            kept = [kept[i] for i in pick]
        strokes.extend(kept)
    return strokes


def collect_sapimouse(p: Params, approaches: ApproachPool) -> list[Stroke]:
    """Clean SapiMouse strokes of every user (capped per user like Balabit's, seeded); every pointing stroke that
    may serve as an approach goes into ``approaches``."""
    by_user: dict[str, list[Stroke]] = defaultdict(list)
    for stroke in sapimouse.cut_sessions(resolve(p.data.sapimouse_dir), p.prepare_humans.max_pause_ms):
        approaches.offer(stroke)
        if keep_within(stroke, p.prepare_humans):
            by_user[stroke.user].append(stroke)
    return capped(
        by_user,
        p.prepare_humans.max_strokes_per_user,
        np.random.default_rng(p.base.seed + p.prepare_humans.seed_offsets.sapimouse_cap),
    )


def phase_a_records(
    strokes: list[Stroke], approaches: ApproachPool, p: Params
) -> tuple[list[TraceRecord], dict[str, int]]:
    """Human strokes as Phase A traces (attacker users excluded), each after an approach by the same person;
    counts of rejections by reason (the geometry check's, ``no_approach`` when the person has no approach that
    fits the ticket's surroundings)."""
    rng = np.random.default_rng(p.base.seed + p.prepare_humans.seed_offsets.tasks)
    records: list[TraceRecord] = []
    rejected: dict[str, int] = defaultdict(int)
    for stroke in strokes:
        split = phase_a_split(p, stroke.user)
        if split is None:
            continue
        task = random_perforation(rng)
        arrays = to_perforation(stroke.path, task)
        check = check_follow(task, arrays)
        if not check.passed:
            rejected[str(check.reason)] += 1
            continue
        approach = approaches.draw(stroke, task, rng)
        if approach is None:
            rejected["no_approach"] += 1
            continue
        arrays = with_approach(arrays, approach, task.area_px)
        records.append(TraceRecord(stroke.stroke_id, "human", "human", stroke.user, split, task, arrays))
    return records, dict(rejected)


def prepare_humans(p: Params) -> dict[str, object]:
    """Runs the stage; returns its summary (also written beside the outputs)."""
    out_dir, files = resolve(p.prepare_humans.out_dir), p.prepare_humans.files
    approaches = ApproachPool(p.prepare_humans.approach, p.featurize.approach)
    strokes, gaps = collect_strokes(p, approaches)
    write_strokes(strokes, out_dir / files.strokes)
    browser = collect_sapimouse(p, approaches)
    write_strokes(browser, out_dir / files.sapimouse_strokes)
    sampler = HumanSampler.fit(gaps, p.sampling.max_gap_ms)
    sampler.save(resolve(p.prepare_humans.sampler_path))
    records, rejected = phase_a_records(browser + strokes, approaches, p)
    write_traces(records, out_dir / files.phase_a)
    own = approaches.people(
        {r.user for r in records},
        p.prepare_humans.approach.max_per_user,
        np.random.default_rng(p.base.seed + p.prepare_humans.seed_offsets.approaches),
    )
    write_strokes(own, out_dir / files.approaches)
    per_split: dict[str, int] = defaultdict(int)
    per_population: dict[str, int] = defaultdict(int)
    for r in records:
        per_split[r.split] += 1
        per_population[population_of(r.user)] += 1
    summary: dict[str, object] = {
        "strokes": len(strokes),
        "strokes_by_kind": {k: sum(s.kind == k for s in strokes) for k in ("point", "drag")},
        "sapimouse_strokes": len(browser),
        "sapimouse_strokes_by_kind": {k: sum(s.kind == k for s in browser) for k in ("point", "drag")},
        "phase_a_traces_by_split": dict(per_split),
        "phase_a_traces_by_population": dict(per_population),
        "phase_a_rejected": rejected,
        "approach_strokes_by_population": approaches.counts_by_population(),
        "approaches_kept": len(own),
        "sampling": {
            "median_gap_ms": sampler.median_gap_ms,
            "quantum_ms": sampler.quantum_ms,
            "zero_gap_share": float(np.mean(sampler.gaps_ms == 0)),
        },
    }
    (out_dir / files.summary).write_text(json.dumps(summary, indent=2))
    logger.info("prepared humans: %s", json.dumps(summary))
    return summary


def main() -> None:
    p, _ = parse_stage(__doc__)
    prepare_humans(p)


if __name__ == "__main__":
    main()
