"""DVC stage ``promote_phase_a``: moves ``champion`` to the challenger when the gates pass.

Gates come from ``params.yaml: promote_phase_a``; the challenger must also be no worse than the current champion
on any gated metric. The decision is written to ``decision_path`` whichever way it goes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipelines.promotion import promote_behaviour_model
from tcurity.config import Params, load_params, setup_logging
from tcurity.registry import PromotionDecision

logger = logging.getLogger("pipelines.promote_phase_a")


def promote_phase_a(p: Params) -> PromotionDecision:
    """Applies the gates and moves the alias; returns the decision."""
    return promote_behaviour_model(p, p.train_phase_a.model_name, p.promote_phase_a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    promote_phase_a(p)


if __name__ == "__main__":
    main()
