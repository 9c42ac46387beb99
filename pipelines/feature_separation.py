"""DVC stage ``feature_separation``: browser-resolution screens on the SapiMouse training people (about a minute).

Writes two reports (``params.yaml: feature_separation``, ``docs/sampling.md``):
- ``invariance_path`` (``reports/metrics/rate_invariance.json``): browser features of ≥ 110 Hz people against
  60 Hz people and against their own 60 Hz SDK stream (:func:`tcurity.evaluate.invariance.rate_invariance_report`);
- ``separation_path`` (``reports/metrics/feature_separation.json``): each fine feature's AUC against every bot
  family emitted at a 60 Hz browser's pace (:func:`tcurity.evaluate.separation.separation_report`).

Only the training people of ``params.yaml: sapimouse_split`` are read as people, and the attacker users as the
replay bot's sources; the fitted families draw from the models of stage ``fit_bot_models``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.data import sapimouse
from tcurity.evaluate.invariance import rate_invariance_report
from tcurity.evaluate.separation import separation_report
from tcurity.simulate.fitted import load_bot_models

logger = logging.getLogger("pipelines.feature_separation")


def feature_separation(p: Params) -> dict[str, Path]:
    """Computes and writes both reports; returns their paths."""
    split, root = p.sapimouse_split, resolve(p.data.sapimouse_dir)
    people = sapimouse.kept_strokes(root, p.prepare_humans, set(split.train_users))
    attackers = sapimouse.kept_strokes(root, p.prepare_humans, set(split.attacker_users))
    classes = sapimouse.user_rate_classes(root)
    high = [(s.user, s.path) for s in people if classes[s.user] == "high"]
    standard = [(s.user, s.path) for s in people if classes[s.user] == "standard"]
    cfg = p.feature_separation
    invariance, separation = resolve(cfg.invariance_path), resolve(cfg.separation_path)
    for path in (invariance, separation):
        path.parent.mkdir(parents=True, exist_ok=True)
    invariance.write_text(json.dumps(rate_invariance_report(high, standard, p.base.seed), indent=2) + "\n")
    models = load_bot_models(resolve(p.fit_bot_models.out_dir))
    report = separation_report(people, attackers, cfg.bots_per_family, p.base.seed, models)
    separation.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %s and %s", invariance, separation)
    return {"rate_invariance": invariance, "feature_separation": separation}


def main() -> None:
    p, _ = parse_stage(__doc__)
    feature_separation(p)


if __name__ == "__main__":
    main()
