"""DVC stage ``simulate_bots``: Phase A traces of every bot family, on random perforations.

Each family answers ``traces_per_family`` tasks with its own motion and timing: the *evaluation* bots
(``phase_a.parquet``, split ``test``). ``train_traces_per_family`` more per family, drawn from their own seed, are
the *training* bots (``phase_a_train.parquet``, split ``train``) that Phase A's supervised layer learns from; no
evaluation bot is ever trained on. The replay family re-targets real movements of SapiMouse's *attacker* users (whom
no model ever trains or is evaluated on as humans): training replays those of each attacker's first session (the
1-minute one), evaluation replays the rest, so no evaluated replay re-uses a stroke a model learned from. The fitted
families (learned generator, sigma-lognormal) draw from models fitted on the same attacker users (stage
``fit_bot_models``). With ``simulate_bots.browser_emission`` (the default), every movement is recorded as the SDK
records it in a browser on a display drawn per trace (:mod:`tcurity.simulate.emission`); without it, the tools'
own event clocks are kept. Every evaluation trace is also re-emitted with the humans' measured sampling process, to
show that no bot passes merely by being recorded the way the human data were.
"""

from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from pipelines.stage import parse_stage
from tcurity.config import Params, SimulateBotsParams, resolve
from tcurity.data.balabit import Stroke, read_strokes
from tcurity.datasets import TraceRecord, write_traces
from tcurity.geometry import perforation_length_px, random_perforation
from tcurity.sampling import HumanSampler
from tcurity.simulate import FAMILIES
from tcurity.simulate.compose import phase_a_trace
from tcurity.simulate.emission import BrowserEmission
from tcurity.simulate.fitted import BotModel, load_bot_models
from tcurity.simulate.human_sampling import press_with_human_sampling
from tcurity.simulate.replay import pick_source

logger = logging.getLogger("pipelines.simulate_bots")


def simulate_family(
    name: str,
    n: int,
    rng: np.random.Generator,
    sources: list[Stroke],
    models: dict[str, BotModel] | None = None,
    emission: BrowserEmission | None = None,
    split: str = "test",
) -> list[TraceRecord]:
    """``n`` Phase A traces of one family (replays draw their source movements from ``sources``, fitted families
    from their model in ``models``), recorded through ``emission`` when given, labelled with ``split`` (``test``:
    evaluation bots; ``train``: training bots, ids prefixed ``train-``)."""
    family = FAMILIES[name]
    model = (models or {}).get(name)
    prefix = "" if split == "test" else f"{split}-"
    records = []
    for i in range(n):
        task = random_perforation(rng)
        source = pick_source(sources, perforation_length_px(task), rng) if family.needs_source else None
        arrays = phase_a_trace(
            task, name, rng, source=source.path if source else None, model=model, emission=emission
        )
        user = source.user if source else ""
        records.append(TraceRecord(f"{prefix}{name}-{i:05d}", "bot", name, user, split, task, arrays))
    return records


def replay_sources(strokes: list[Stroke], attacker_users: list[str]) -> dict[str, list[Stroke]]:
    """The attacker users' strokes: each user's first session (in name order) for training bots, the others for
    evaluation bots (a user with one session gives evaluation bots only)."""
    sessions: dict[str, list[str]] = {}
    for s in strokes:
        if s.user in attacker_users:
            sessions.setdefault(s.user, [])
            if s.session not in sessions[s.user]:
                sessions[s.user].append(s.session)
    first = {u: min(names) for u, names in sessions.items() if len(names) > 1}
    out: dict[str, list[Stroke]] = {"train": [], "test": []}
    for s in strokes:
        if s.user in attacker_users:
            out["train" if first.get(s.user) == s.session else "test"].append(s)
    return out


def browser_emission(cfg: SimulateBotsParams) -> BrowserEmission | None:
    """The displays bots are recorded on, or ``None`` for the tools' own events (``browser_emission: false``)."""
    if not cfg.browser_emission:
        return None
    e = cfg.emission
    return BrowserEmission(tuple(e.frame_rates_hz), tuple(e.shares), e.frame_jitter_ms)


def simulate_bots(p: Params) -> dict[str, int]:
    """Writes ``phase_a.parquet``, ``phase_a_human_sampling.parquet`` and ``phase_a_train.parquet``; returns the
    count of evaluation bots per family."""
    cfg = p.simulate_bots
    rng = np.random.default_rng(p.base.seed + cfg.seed_offsets.eval_bots)
    # Phase A's people are SapiMouse's (docs/data.md): the replay bot replays SapiMouse's attacker users.
    strokes = read_strokes(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.sapimouse_strokes)
    sources = replay_sources(strokes, list(p.sapimouse_split.attacker_users))
    sampler = HumanSampler.load(resolve(p.prepare_humans.sampler_path))
    models = load_bot_models(resolve(p.fit_bot_models.out_dir))
    emission = browser_emission(cfg)
    records: list[TraceRecord] = []
    for name in tqdm(sorted(FAMILIES), desc="bot families", unit="family"):
        records.extend(simulate_family(name, cfg.traces_per_family, rng, sources["test"], models, emission))
    out = resolve(cfg.out_dir)
    write_traces(records, out / cfg.files.phase_a)
    write_traces(
        [press_with_human_sampling(r, sampler, rng) for r in records], out / cfg.files.phase_a_human_sampling
    )
    train_rng = np.random.default_rng(p.base.seed + cfg.seed_offsets.train_bots)
    n_train = cfg.train_traces_per_family
    if n_train and not sources["train"]:
        raise ValueError(
            "no attacker user has two sessions: training replays would re-use evaluation strokes"
        )
    training = [
        r
        for name in sorted(FAMILIES)
        for r in simulate_family(name, n_train, train_rng, sources["train"], models, emission, "train")
    ]
    write_traces(training, out / cfg.files.phase_a_train)
    counts = {name: sum(r.family == name for r in records) for name in FAMILIES}
    logger.info("simulated %d evaluation bot traces: %s; %d training", len(records), counts, len(training))
    return counts


def main() -> None:
    p, _ = parse_stage(__doc__)
    simulate_bots(p)


if __name__ == "__main__":
    main()
