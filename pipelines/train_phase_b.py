"""DVC stage ``train_phase_b``: runs ``notebooks/train_phase_b.ipynb`` with papermill.

The notebook fits the Random Forest, registers it as ``challenger`` and writes ``models/phase_b_behaviour`` (the
bundle and the registered version); the executed notebook and its plots are the stage's other outputs.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.notebook import run_notebook
from pipelines.stage import parse_stage
from tcurity.config import Params


def train_phase_b(p: Params, params_path: Path | None) -> None:
    """Executes ``notebooks/train_phase_b.ipynb`` on ``params_path``; it reads every setting from there (section ``train_phase_b``)."""
    run_notebook(p.train_phase_b, params_path)


def main() -> None:
    p, params_path = parse_stage(__doc__)
    train_phase_b(p, params_path)


if __name__ == "__main__":
    main()
