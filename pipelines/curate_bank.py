"""DVC stage ``curate_bank``: the trained classifier scores every tile; confident agreements form the bank.

Writes ``data/bank`` (``index.json`` plus the admitted images; the AI server's
``PHASE_B_PROBLEM_IMAGE_ROOT``), the scores of every tile (``data/interim/phase_b/tile_scores.parquet``, for evaluation) and a per-class
summary of what the gate admitted.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.images.classifier import load_local_classifier
from tcurity.images.curate import bank_summary, score_tiles, write_bank
from tcurity.images.params import CurateBankParams, ImageSplitParams, TrainEffnetParams, section
from tcurity.images.tiles import list_tiles, split_tiles
from tcurity.images.tracking import Registration

logger = logging.getLogger("pipelines.curate_bank")


def curate_bank(p: Params) -> dict[str, object]:
    """Scores the tiles, rebuilds the bank and writes the summary; returns the summary."""
    cfg = section("curate_bank", CurateBankParams, p)
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    split = section("image_split", ImageSplitParams, p)
    model_dir = resolve(section("train_effnet", TrainEffnetParams, p).model_dir)
    root = resolve(p.data.tiles_dir)
    tiles = list_tiles(root)
    splits = split_tiles(tiles, split.val_fraction, split.test_fraction, p.base.seed)
    classifier = load_local_classifier(model_dir, device=cfg.device)
    scores = score_tiles(classifier.predict_proba, classifier.classes, root, tiles, splits=splits)
    scores_path = resolve(cfg.scores_path)
    scores_path.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(scores_path, index=False)
    registration = Registration.read(model_dir)
    model = {"name": registration.name, "version": registration.version}
    write_bank(scores, root, resolve(cfg.bank_dir), cfg.confidence_threshold, model)
    summary = {"model": model, **bank_summary(scores, cfg.confidence_threshold)}
    out = resolve(cfg.summary_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    logger.info("bank summary: %s", json.dumps({k: v for k, v in summary.items() if k != "per_class"}))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    curate_bank(p)


if __name__ == "__main__":
    main()
