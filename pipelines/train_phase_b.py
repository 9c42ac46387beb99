"""DVC stage ``train_phase_b``: runs ``notebooks/train_phase_b.ipynb`` with papermill.

The notebook fits the Random Forest, registers it as ``challenger`` and writes ``models/phase_b_behaviour`` (the
bundle and the registered version); the executed notebook and its plots are the stage's other outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.notebook import execute
from tcurity.config import Params, load_params, setup_logging


def train_phase_b(p: Params, params_path: Path | None) -> None:
    """Executes the training notebook with the stage's parameters."""
    cfg = p.train_phase_b
    execute(
        cfg.notebook,
        cfg.executed_notebook,
        {
            "params_path": str(params_path or ""),
            "plots_dir": str(p.evaluate_phase_b.plots_dir),
            "model_dir": str(cfg.model_dir),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    train_phase_b(p, args.params)


if __name__ == "__main__":
    main()
