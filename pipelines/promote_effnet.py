"""DVC stage ``promote_effnet``: moves ``champion`` of the tile classifier to the challenger when gates pass.

Gates (``params.yaml: promote_effnet``): validation accuracy at least the minimum of the profile that trained
the challenger, and bank precision on held-out tiles at least its minimum; neither may fall more than
``max_metric_drop`` below the current champion's. The decision is written whichever way it goes.
"""

from __future__ import annotations

import json
import logging

from pipelines.stage import parse_stage
from tcurity import registry
from tcurity.config import Params, resolve
from tcurity.images.tracking import Registration
from tcurity.images.train import read_training_summary
from tcurity.model_ops import effnet_gates
from tcurity.registry import PromotionDecision

logger = logging.getLogger("pipelines.promote_effnet")


def promote_effnet(p: Params) -> PromotionDecision:
    """Applies the gates and moves the alias; returns the decision."""
    cfg = p.promote_effnet
    model_dir = resolve(p.train_effnet.model_dir)
    profile = read_training_summary(model_dir).profile
    gates = effnet_gates(cfg.min_val_accuracy, cfg.min_bank_precision, profile)
    registry.configure(p)
    decision = registry.promote_challenger(Registration.read(model_dir).name, gates, cfg.max_metric_drop)
    out = resolve(cfg.decision_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**decision.as_dict(), "profile": profile}, indent=2) + "\n")
    return decision


def main() -> None:
    p, _ = parse_stage(__doc__)
    promote_effnet(p)


if __name__ == "__main__":
    main()
