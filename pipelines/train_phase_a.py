"""DVC stage ``train_phase_a``: runs ``notebooks/train_phase_a.ipynb`` with papermill.

The notebook fits the Isolation Forest, registers it as ``challenger`` and writes ``models/phase_a`` (the bundle
and the registered version); the executed notebook and its plots are the stage's other outputs.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.notebook import run_notebook
from pipelines.stage import parse_stage
from tcurity.config import Params


def train_phase_a(p: Params, params_path: Path | None) -> None:
    """Executes ``notebooks/train_phase_a.ipynb`` on ``params_path``; it reads every setting from there (section ``train_phase_a``)."""
    run_notebook(p.train_phase_a, params_path)


def main() -> None:
    p, params_path = parse_stage(__doc__)
    train_phase_a(p, params_path)


if __name__ == "__main__":
    main()
