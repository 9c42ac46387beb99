"""DVC stage ``featurize``: Phase A feature table of every human and bot trace.

Reads the human traces of ``prepare_humans`` and the bot traces of ``simulate_bots`` (evaluation bots as emitted and
re-emitted with the humans' sampling process, training bots as emitted) and writes ``phase_a_features.parquet`` under
``params.yaml: featurize.out_dir``. Features are computed on ``featurize.grid_ms`` (the 60 Hz browser grid), by the
same :func:`tcurity.features.phase_a.phase_a_features` that serving calls.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.datasets import read_traces
from tcurity.features.phase_a import feature_table

logger = logging.getLogger("pipelines.featurize")


def featurize(p: Params) -> pd.DataFrame:
    """Computes and writes the Phase A feature table; returns it."""
    grid_ms = p.featurize.grid_ms
    humans = read_traces(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.phase_a)
    bots_dir, bots = resolve(p.simulate_bots.out_dir), p.simulate_bots.files
    parts = [
        feature_table(humans, grid_ms),
        feature_table(read_traces(bots_dir / bots.phase_a), grid_ms),
        feature_table(read_traces(bots_dir / bots.phase_a_human_sampling), grid_ms, sampling="human"),
        feature_table(read_traces(bots_dir / bots.phase_a_train), grid_ms),
    ]
    table = pd.concat(parts, ignore_index=True)
    out = resolve(p.featurize.out_dir) / p.featurize.files.features
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    logger.info(
        "wrote %d feature rows (%d human) to %s", len(table), int((table.source == "human").sum()), out
    )
    return table


def main() -> None:
    p, _ = parse_stage(__doc__)
    featurize(p)


if __name__ == "__main__":
    main()
