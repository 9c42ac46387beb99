"""The promotion step shared by the behaviour models' ``promote_*`` stages."""

from __future__ import annotations

import json

from tcurity import registry
from tcurity.config import Params, PromoteParams, resolve
from tcurity.model_ops import behaviour_gates
from tcurity.registry import PromotionDecision


def promote_behaviour_model(p: Params, model_name: str, cfg: PromoteParams) -> PromotionDecision:
    """Gates a behaviour model's challenger on held-out human pass rate, AUC and the weakest naive and humanised
    families' block rates (each no worse than the champion's), moves ``champion`` when they pass, and writes the
    decision to ``cfg.decision_path``."""
    registry.configure(p)
    decision = registry.promote_challenger(model_name, behaviour_gates(cfg), cfg.max_metric_drop)
    out = resolve(cfg.decision_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(decision.as_dict(), indent=2))
    return decision
