"""DVC stage ``prepare_phase_b``: whole Phase B answers by people and by every bot family.

The answers are made by :mod:`tcurity.data.grid_answers`; this stage cuts SapiMouse's sessions with Phase B's own
stroke limits (``prepare_phase_b.strokes``), reads Balabit's strokes as ``prepare_humans`` cut them, calls the
package with ``params.yaml``'s settings and seeds, and writes (``params.yaml: prepare_phase_b.out_dir``):

- ``humans.parquet``: people's answers composed from one recorded session at a time. SapiMouse's train, calib and
  test people are the splits ``train``, ``calib`` and ``test``; Balabit's people, the second population, are
  ``balabit_train``, ``balabit_calib`` and ``balabit_test``; attacker people of either population are left out;
- ``bots.parquet``: every family of :data:`tcurity.simulate.FAMILIES` answering correctly, split ``train`` (what
  the Random Forest learns from) and ``test`` (evaluation only), drawn from different seeds. Replays re-use the
  SapiMouse attacker people's strokes (even-numbered sessions for training bots, odd ones for evaluation bots);
- ``bots_scripted_waits.parquet``: evaluation bots of every family with a script's human-like waits;
- ``bots_human_sampling.parquet``: the evaluation bots re-emitted with the low-rate humans' sampling process;
- ``summary.json``: answers per split, population and person (``docs/data.md`` quotes it).
"""

from __future__ import annotations

import json
import logging
from functools import partial

import numpy as np

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.data import grid_answers as ga
from tcurity.data.adapter import GridComposition
from tcurity.data.populations import phase_a_split
from tcurity.data.strokes import Stroke, read_strokes
from tcurity.datasets import TraceRecord, write_traces
from tcurity.sampling import HumanSampler
from tcurity.simulate.fitted import BotModel, load_bot_models

logger = logging.getLogger("pipelines.prepare_phase_b")


def layout(p: Params) -> ga.AnswerLayout:
    """How many targets a served problem has (``params.yaml: problems``)."""
    return ga.AnswerLayout(p.problems.min_targets, p.problems.max_targets)


def browser_strokes(p: Params) -> list[Stroke]:
    """SapiMouse's movements (every person's, attackers included) within Phase B's stroke limits."""
    cfg = p.prepare_phase_b
    return ga.browser_strokes(resolve(p.data.sapimouse_dir), p.prepare_humans.max_pause_ms, cfg.strokes)


def humans(p: Params, browser: list[Stroke]) -> list[TraceRecord]:
    """Both populations' answers, labelled with their person's split (attackers left out)."""
    cfg = p.prepare_phase_b
    strokes = browser + read_strokes(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.strokes)
    return ga.human_answers(
        strokes,
        partial(phase_a_split, p),
        set(p.sapimouse_split.train_users) | set(p.split.train_users),
        layout(p),
        GridComposition(cfg.max_pause_ms, cfg.max_scale_ratio, cfg.target_spread),
        np.random.default_rng(p.base.seed + cfg.seed_offsets.humans),
    )


def bots(
    p: Params,
    sources: dict[str, list[Stroke]],
    split: str,
    n: int,
    seed: int,
    waits: float,
    models: dict[str, BotModel] | None = None,
) -> list[TraceRecord]:
    """``n`` answers of every family for ``split``, from their own stream (``base.seed`` + ``seed``); the fitted
    families draw from ``models`` (the ``fit_bot_models`` stage's)."""
    rng = np.random.default_rng(p.base.seed + seed)
    return ga.every_family(n, split, layout(p), rng, sources[split], waits, models)


def prepare_phase_b(p: Params) -> dict[str, object]:
    """Runs the stage; returns (and writes) counts of what it wrote."""
    cfg = p.prepare_phase_b
    browser = browser_strokes(p)
    people = humans(p, browser)
    sources = ga.attacker_sources(browser, p.sapimouse_split.attacker_users)
    models = load_bot_models(resolve(p.fit_bot_models.out_dir))
    trained = bots(
        p,
        sources,
        "train",
        cfg.train_bots_per_family,
        cfg.seed_offsets.train_bots,
        cfg.train_scripted_waits,
        models,
    )
    evaluated = bots(p, sources, "test", cfg.test_bots_per_family, cfg.seed_offsets.test_bots, 0.0, models)
    out = resolve(cfg.out_dir)
    write_traces(people, out / cfg.files.humans)
    write_traces(trained + evaluated, out / cfg.files.bots)
    sampler = HumanSampler.load(resolve(p.prepare_humans.sampler_path))
    rng = np.random.default_rng(p.base.seed + cfg.seed_offsets.human_sampling)
    write_traces(
        [ga.answer_with_human_sampling(r, sampler, rng) for r in evaluated],
        out / cfg.files.bots_human_sampling,
    )
    # The evaluation bots' families again, from their own seed, all with a script's human-like waits: reported
    # beside the gated metrics (``scripted_waits``), never gated.
    waiting = bots(
        p, sources, "test", cfg.test_bots_per_family // 4, cfg.seed_offsets.scripted_waits, 1.0, models
    )
    write_traces(
        [
            TraceRecord(r.trace_id + "-sw", r.source, r.family, r.user, r.split, r.task, r.arrays)
            for r in waiting
        ],
        out / cfg.files.bots_scripted_waits,
    )
    summary = ga.summary(people, trained + evaluated)
    (out / cfg.files.summary).write_text(json.dumps(summary, indent=2))
    logger.info(
        "prepared phase B traces: %s",
        json.dumps({k: summary[k] for k in ("humans_by_split", "bots_by_split")}),
    )
    return summary


def main() -> None:
    p, _ = parse_stage(__doc__)
    prepare_phase_b(p)


if __name__ == "__main__":
    main()
