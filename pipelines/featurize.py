"""DVC stage ``featurize``: Phase A feature table of every human and bot trace.

Reads the human traces of ``prepare_humans`` and the bot traces of ``simulate_bots`` (evaluation bots as emitted and
re-emitted with the humans' sampling process, training bots as emitted) and writes ``phase_a_features.parquet`` under
``params.yaml: featurize.out_dir``. Features are computed on ``featurize.grid_ms`` (the 60 Hz browser grid), by the
same :func:`tcurity.features.phase_a.phase_a_features` that serving calls, and beside them each trace's approach to
the grip (:func:`tcurity.features.approach.approach_table`: ``approach_judged`` and the ``approach_…`` features,
empty where there is none to judge); and ``approach_features.parquet``, the features of the people's own
approaches (``prepare_humans``' ``approaches.parquet``) with each person's split: what the approach layers learn
and calibrate on.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.data.populations import phase_a_split
from tcurity.data.strokes import read_strokes
from tcurity.datasets import read_traces
from tcurity.features.approach import APPROACH_TABLE, approach_limits, approach_table, people_approach_table
from tcurity.features.phase_a import feature_table

logger = logging.getLogger("pipelines.featurize")


def featurize(p: Params) -> pd.DataFrame:
    """Computes and writes the Phase A feature table; returns it."""
    grid_ms = p.featurize.grid_ms
    humans = read_traces(resolve(p.prepare_humans.out_dir) / "phase_a.parquet")
    bots_dir = resolve(p.simulate_bots.out_dir)
    limits = approach_limits(p.featurize.approach)
    sets = [
        (humans, "native"),
        (read_traces(bots_dir / "phase_a.parquet"), "native"),
        (read_traces(bots_dir / "phase_a_human_sampling.parquet"), "human"),
        (read_traces(bots_dir / "phase_a_train.parquet"), "native"),
    ]
    parts = [
        pd.concat(
            [feature_table(records, grid_ms, sampling), approach_table(records, limits, grid_ms)], axis=1
        )
        for records, sampling in sets
    ]
    table = pd.concat(parts, ignore_index=True)
    out = resolve(p.featurize.out_dir) / "phase_a_features.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    people = read_strokes(resolve(p.prepare_humans.out_dir) / "approaches.parquet")
    approaches = people_approach_table(people, lambda user: phase_a_split(p, user), grid_ms)
    approaches.to_parquet(out.parent / APPROACH_TABLE, index=False)
    logger.info("wrote %d people's approaches to %s", len(approaches), out.parent / APPROACH_TABLE)
    logger.info(
        "wrote %d feature rows (%d human) to %s", len(table), int((table.source == "human").sum()), out
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    featurize(p)


if __name__ == "__main__":
    main()
