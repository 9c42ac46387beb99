"""DVC stage ``fit_bot_models``: the fitted bot families' models, learned from attacker-source people only.

Reads the SapiMouse sessions of ``params.yaml: sapimouse_split.attacker_users`` alone (no other person's file is
opened), keeps their clean strokes with ``prepare_humans``' limits, and fits the learned generator and the
sigma-lognormal population (:func:`tcurity.simulate.fitted.fit_bot_models`). Writes arrays (``.npz``) and facts
(``.json``) under ``fit_bot_models.out_dir``, which ``simulate_bots``, ``prepare_phase_b`` and
``feature_separation`` read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.data import sapimouse
from tcurity.simulate.fitted import fit_bot_models as fit_models
from tcurity.simulate.fitted import save_bot_models

logger = logging.getLogger("pipelines.fit_bot_models")


def fit_bot_models(p: Params) -> Path:
    """Fits and writes the models; returns their folder."""
    attackers = set(p.sapimouse_split.attacker_users)
    strokes = sapimouse.kept_strokes(resolve(p.data.sapimouse_dir), p.prepare_humans, attackers)
    models = fit_models(strokes, attackers, p.fit_bot_models.max_sigma_strokes, p.base.seed)
    out = resolve(p.fit_bot_models.out_dir)
    save_bot_models(models, out)
    logger.info("fitted bot models on %d strokes of %d attacker users", len(strokes), len(attackers))
    return out


def main() -> None:
    p, _ = parse_stage(__doc__)
    fit_bot_models(p)


if __name__ == "__main__":
    main()
