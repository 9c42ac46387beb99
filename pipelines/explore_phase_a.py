"""DVC stage ``explore_phase_a``: runs ``notebooks/explore_phase_a.ipynb`` (humans and bots side by side)."""

from __future__ import annotations

from pathlib import Path

from pipelines.notebook import run_notebook
from pipelines.stage import parse_stage
from tcurity.config import Params


def explore_phase_a(p: Params, params_path: Path | None) -> None:
    """Executes ``notebooks/explore_phase_a.ipynb`` on ``params_path``; it reads every setting from there (section ``explore_phase_a``)."""
    run_notebook(p.explore_phase_a, params_path)


def main() -> None:
    p, params_path = parse_stage(__doc__)
    explore_phase_a(p, params_path)


if __name__ == "__main__":
    main()
