"""DVC stage ``featurize``: Phase A feature table of every human and bot trace.

Reads the human traces of ``prepare_humans`` and the bot traces of ``simulate_bots`` (evaluation bots as emitted and
re-emitted with the humans' sampling process, training bots as emitted) and writes ``phase_a_features.parquet`` under
``params.yaml: featurize.out_dir``. Features are computed on ``featurize.grid_ms`` (the 60 Hz browser grid), by the
same :func:`tcurity.features.phase_a.phase_a_features` that serving calls, and beside them each trace's approach to
the grip (:func:`tcurity.features.approach.approach_table`: ``approach_judged`` and the ``approach_…`` features,
empty where there is none to judge); and ``featurize.files.approaches``, the features of the people's own
approaches (``prepare_humans``' ``approaches.parquet``) with each person's split: what the approach layers learn
and calibrate on.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.data.populations import phase_a_split
from tcurity.data.strokes import read_strokes
from tcurity.datasets import read_traces
from tcurity.features.approach import approach_table, people_approach_table
from tcurity.features.phase_a import feature_table

logger = logging.getLogger("pipelines.featurize")


def featurize(p: Params) -> pd.DataFrame:
    """Computes and writes the Phase A feature table; returns it."""
    grid_ms = p.featurize.grid_ms
    humans = read_traces(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.phase_a)
    bots_dir, bots = resolve(p.simulate_bots.out_dir), p.simulate_bots.files
    limits = p.featurize.approach
    sets = [
        (humans, "native"),
        (read_traces(bots_dir / bots.phase_a), "native"),
        (read_traces(bots_dir / bots.phase_a_human_sampling), "human"),
        (read_traces(bots_dir / bots.phase_a_train), "native"),
    ]
    parts = [
        pd.concat(
            [feature_table(records, grid_ms, sampling), approach_table(records, limits, grid_ms)], axis=1
        )
        for records, sampling in sets
    ]
    table = pd.concat(parts, ignore_index=True)
    out = resolve(p.featurize.out_dir) / p.featurize.files.features
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    people = read_strokes(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.approaches)
    approaches = people_approach_table(people, lambda user: phase_a_split(p, user), grid_ms)
    approaches_path = out.parent / p.featurize.files.approaches
    approaches.to_parquet(approaches_path, index=False)
    logger.info("wrote %d people's approaches to %s", len(approaches), approaches_path)
    logger.info(
        "wrote %d feature rows (%d human) to %s", len(table), int((table.source == "human").sum()), out
    )
    return table


def main() -> None:
    p, _ = parse_stage(__doc__)
    featurize(p)


if __name__ == "__main__":
    main()
