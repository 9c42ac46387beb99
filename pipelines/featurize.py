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
from collections.abc import Sequence
from functools import partial

import pandas as pd

from pipelines.stage import parse_stage
from tcurity.config import ApproachLimits, Params, resolve
from tcurity.data.populations import phase_a_split
from tcurity.data.strokes import read_strokes
from tcurity.datasets import TraceRecord, read_traces
from tcurity.features.approach import approach_table, people_approach_table
from tcurity.features.phase_a import feature_table
from tcurity.parallel import map_chunks

logger = logging.getLogger("pipelines.featurize")


def trace_rows(
    records: Sequence[TraceRecord], grid_ms: float, sampling: str, limits: ApproachLimits
) -> pd.DataFrame:
    """One row per trace: its features and, beside them, its approach's."""
    return pd.concat(
        [feature_table(records, grid_ms, sampling), approach_table(records, limits, grid_ms)], axis=1
    )


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
        map_chunks(partial(trace_rows, grid_ms=grid_ms, sampling=sampling, limits=limits), records)
        for records, sampling in sets
    ]
    table = pd.concat(parts, ignore_index=True)
    out = resolve(p.featurize.out_dir) / p.featurize.files.features
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    people = read_strokes(resolve(p.prepare_humans.out_dir) / p.prepare_humans.files.approaches)
    approaches = map_chunks(
        partial(people_approach_table, split_of=partial(phase_a_split, p), grid_ms=grid_ms), people
    )
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
