"""DVC stage ``train_effnet``: runs ``notebooks/train_effnet.ipynb`` with papermill.

The notebook fine-tunes EfficientNet-Lite0 on the training tiles with the profile ``params.yaml:
train_effnet.profile`` names (``cpu`` or ``gpu``), logs the run to MLflow (experiment
``captcha-effnet-tracking``), registers the model as ``challenger`` and writes ``models/phase_b_effnet``; the
executed notebook and the per-epoch history are the stage's other outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.notebook import execute
from tcurity.config import Params, load_params, setup_logging
from tcurity.images.params import TrainEffnetParams, section


def train_effnet(p: Params, params_path: Path | None) -> None:
    """Executes the training notebook with the stage's profile, device and thread count."""
    cfg = section("train_effnet", TrainEffnetParams, p)
    execute(
        cfg.notebook,
        cfg.executed_notebook,
        {
            "params_path": str(params_path or ""),
            "profile": cfg.profile,
            "device": cfg.device,
            "num_threads": cfg.num_threads,
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
    train_effnet(p, args.params)


if __name__ == "__main__":
    main()
