"""DVC stage ``promote_phase_b``: moves the behaviour model's ``champion`` to the challenger when the gates pass.

Gates come from ``params.yaml: promote_phase_b`` (human pass rate, AUC and the lowest block rate of a naive bot
family, on held-out data); the challenger must also be no worse than the current champion on any gated metric.
The decision is written to ``decision_path`` whichever way it goes.
"""

from __future__ import annotations

import logging

from pipelines.promotion import promote_behaviour_model
from pipelines.stage import parse_stage
from tcurity.config import Params
from tcurity.registry import PromotionDecision

logger = logging.getLogger("pipelines.promote_phase_b")


def promote_phase_b(p: Params) -> PromotionDecision:
    """Applies the gates and moves the alias; returns the decision."""
    return promote_behaviour_model(p, p.train_phase_b.model_name, p.promote_phase_b)


def main() -> None:
    p, _ = parse_stage(__doc__)
    promote_phase_b(p)


if __name__ == "__main__":
    main()
