"""DVC stage ``curate_bank``: the trained classifier scores every tile; confident agreements form the bank.

The gate's confidence is chosen for this model on the validation tiles (``curate_bank.target_precision``, never
below ``curate_bank.confidence_threshold``: :func:`tcurity.images.curate.choose_threshold`) and written into the
bank's index, where evaluation and the AI server read it.

Writes ``data/bank`` (``index.json`` plus the admitted images; the AI server's
``PHASE_B_PROBLEM_IMAGE_ROOT``), the scores of every tile (``data/interim/phase_b/tile_scores.parquet``, for evaluation) and a per-class
summary of what the gate admitted.
"""

from __future__ import annotations

import json
import logging

import torch

from pipelines.stage import parse_stage
from tcurity.config import Params, resolve
from tcurity.images.classifier import load_local_classifier
from tcurity.images.curate import bank_summary, choose_threshold, score_tiles, write_bank
from tcurity.images.tiles import list_tiles, split_tiles
from tcurity.images.tracking import Registration

logger = logging.getLogger("pipelines.curate_bank")


def curate_bank(p: Params) -> dict[str, object]:
    """Scores the tiles, rebuilds the bank and writes the summary; returns the summary."""
    cfg = p.curate_bank
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    split = p.image_split
    model_dir = resolve(p.train_effnet.model_dir)
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
    threshold, val_precision = choose_threshold(scores, cfg.confidence_threshold, cfg.target_precision)
    if val_precision < cfg.target_precision:
        logger.warning(
            "no confidence reaches validation precision %.3f; the gate takes %.4f (precision %.4f)",
            cfg.target_precision,
            threshold,
            val_precision,
        )
    write_bank(scores, root, resolve(cfg.bank_dir), threshold, model)
    summary = {
        "model": model,
        "target_precision": cfg.target_precision,
        "val_precision": round(val_precision, 4),
        **bank_summary(scores, threshold),
    }
    out = resolve(cfg.summary_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    logger.info("bank summary: %s", json.dumps({k: v for k, v in summary.items() if k != "per_class"}))
    return summary


def main() -> None:
    p, _ = parse_stage(__doc__)
    curate_bank(p)


if __name__ == "__main__":
    main()
