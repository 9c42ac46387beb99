"""DVC stage ``explore_phase_a``: runs ``notebooks/explore_phase_a.ipynb`` (humans and bots side by side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.notebook import execute
from tcurity.config import Params, load_params, setup_logging

NOTEBOOK = Path("notebooks/explore_phase_a.ipynb")
EXECUTED = Path("reports/notebooks/explore_phase_a.ipynb")


def explore_phase_a(p: Params, params_path: Path | None) -> None:
    """Executes the exploration notebook; its figures land in ``evaluate_phase_a.plots_dir``."""
    execute(NOTEBOOK, EXECUTED, {"params_path": str(params_path or ""), "seed": p.base.seed})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    explore_phase_a(p, args.params)


if __name__ == "__main__":
    main()
