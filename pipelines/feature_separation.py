"""Browser-resolution screens on the SapiMouse training people (not a DVC stage; ``make``-free, seconds to minutes).

Writes two reports (``docs/sampling.md``):
- ``reports/metrics/rate_invariance.json``: browser features of ≥ 110 Hz people against 60 Hz people and against
  their own 60 Hz SDK stream (:func:`tcurity.evaluate.invariance.rate_invariance_report`);
- ``reports/metrics/feature_separation.json``: each fine feature's AUC against every bot family emitted at a 60 Hz
  browser's pace (:func:`tcurity.evaluate.separation.separation_report`).

Only the training people of ``params.yaml: sapimouse_split`` are read as people, and the attacker users as the
replay bot's sources.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.data import sapimouse
from tcurity.data.strokes import Stroke, keep_within
from tcurity.evaluate.invariance import rate_invariance_report
from tcurity.evaluate.separation import separation_report

logger = logging.getLogger("pipelines.feature_separation")

METRICS_DIR = Path("reports/metrics")


def _strokes(p: Params, users: list[str]) -> list[Stroke]:
    limits = p.prepare_humans
    root = resolve(p.data.sapimouse_dir)
    return [
        s for s in sapimouse.cut_sessions(root, limits.max_pause_ms, set(users)) if keep_within(s, limits)
    ]


def feature_separation(p: Params, bots_per_family: int) -> dict[str, Path]:
    """Computes and writes both reports; returns their paths."""
    split = p.sapimouse_split
    people = _strokes(p, split.train_users)
    classes = sapimouse.user_rate_classes(resolve(p.data.sapimouse_dir))
    high = [(s.user, s.path) for s in people if classes[s.user] == "high"]
    standard = [(s.user, s.path) for s in people if classes[s.user] == "standard"]
    out = resolve(METRICS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    invariance = out / "rate_invariance.json"
    invariance.write_text(json.dumps(rate_invariance_report(high, standard, p.base.seed), indent=2) + "\n")
    separation = out / "feature_separation.json"
    report = separation_report(people, _strokes(p, split.attacker_users), bots_per_family, p.base.seed)
    separation.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %s and %s", invariance, separation)
    return {"rate_invariance": invariance, "feature_separation": separation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    parser.add_argument("--bots-per-family", type=int, default=400, help="bot movements per family")
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    feature_separation(p, args.bots_per_family)


if __name__ == "__main__":
    main()
