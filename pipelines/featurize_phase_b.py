"""DVC stage ``featurize_phase_b``: Phase B feature table of every human and bot answer.

Reads the answers of ``prepare_phase_b`` (as emitted, and the evaluation bots re-emitted with the humans'
sampling process) and writes one row per answer (identity, labels, how it was sampled, whether the answer has
the shape of a complete one, the features of :mod:`tcurity.features.phase_b`) to
``params.yaml: featurize_phase_b.out_path``.
"""

from __future__ import annotations

import logging
from functools import partial

import pandas as pd

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.datasets import read_traces
from tcurity.features.phase_b import feature_table
from tcurity.parallel import map_chunks

logger = logging.getLogger("pipelines.featurize_phase_b")


def featurize_phase_b(p: Params) -> pd.DataFrame:
    """Computes and writes the Phase B feature table; returns it."""
    traces, files = resolve(p.prepare_phase_b.out_dir), p.prepare_phase_b.files
    grid_ms = p.sampling.grid_ms
    native = read_traces([traces / files.humans, traces / files.bots])
    resampled = read_traces(traces / files.bots_human_sampling)
    waiting = read_traces(traces / files.bots_scripted_waits)
    table = pd.concat(
        [
            map_chunks(partial(feature_table, grid_ms=grid_ms), native),
            map_chunks(partial(feature_table, grid_ms=grid_ms, sampling="human"), resampled),
            map_chunks(partial(feature_table, grid_ms=grid_ms, sampling="scripted_waits"), waiting),
        ],
        ignore_index=True,
    )
    out = resolve(p.featurize_phase_b.out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    logger.info(
        "wrote %d phase B feature rows (%d human) to %s",
        len(table),
        int((table.source == "human").sum()),
        out,
    )
    return table


def main() -> None:
    p, _ = parse_stage(__doc__)
    featurize_phase_b(p)


if __name__ == "__main__":
    main()
