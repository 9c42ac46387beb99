"""DVC stage ``train_effnet``: runs ``notebooks/train_effnet.ipynb`` with papermill.

The notebook fine-tunes EfficientNet-Lite0 on the training tiles with the profile ``params.yaml:
train_effnet.profile`` names (``cpu`` or ``gpu``), logs the run to MLflow (experiment
``captcha-effnet-tracking``), registers the model as ``challenger`` and writes ``models/phase_b_effnet``; the
executed notebook and the per-epoch history are the stage's other outputs.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.notebook import run_notebook
from pipelines.stage import parse_stage
from tcurity.config import Params


def train_effnet(p: Params, params_path: Path | None) -> None:
    """Executes ``notebooks/train_effnet.ipynb`` on ``params_path``; it reads every setting from there (section ``train_effnet``)."""
    run_notebook(p.train_effnet, params_path)


def main() -> None:
    p, params_path = parse_stage(__doc__)
    train_effnet(p, params_path)


if __name__ == "__main__":
    main()
