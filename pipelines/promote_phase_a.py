"""DVC stage ``promote_phase_a``: moves ``champion`` to the challenger when the gates pass.

Gates come from ``params.yaml: promote_phase_a``; the challenger must also be no worse than the current champion
on any gated metric. The decision is written to ``decision_path`` whichever way it goes.
"""

from __future__ import annotations

import logging

from pipelines.promotion import promote_behaviour_model
from pipelines.stage import parse_stage
from tcurity.config import Params
from tcurity.registry import PromotionDecision

logger = logging.getLogger("pipelines.promote_phase_a")


def promote_phase_a(p: Params) -> PromotionDecision:
    """Applies the gates and moves the alias; returns the decision."""
    return promote_behaviour_model(p, p.train_phase_a.model_name, p.promote_phase_a)


def main() -> None:
    p, _ = parse_stage(__doc__)
    promote_phase_a(p)


if __name__ == "__main__":
    main()
