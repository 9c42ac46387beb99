"""DVC stages ``evaluate_images`` and ``evaluate_attacker``: the registered tile classifier, the bank, the generator.

``evaluate_images`` (what promotion needs, seconds): loads the version ``train_effnet`` registered back from the
MLflow registry (what serving loads), checks it agrees with the saved copy, and writes
``reports/metrics/phase_b_image.json``: validation and test accuracy, per-class precision/recall on test tiles,
bank precision on held-out tiles and bank sizes. The gated metrics are attached to the model version for
``promote_effnet``.

``evaluate_attacker`` (minutes; ``make train``, not ``make up``'s first run): the solve rate of an independent
attacker over the whole bank and over held-out tiles, and problems/s of the generator with the batched
classifier check (CPU, and CUDA when present), in ``reports/metrics/phase_b_attacker.json``; the solve rate is
attached to the version too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from pipelines.stage import stage_params, stage_parser
from tcurity import registry
from tcurity.config import EvaluateImagesParams, Params, resolve
from tcurity.evaluate.headline import attacker_headline, image_headline, write_headline
from tcurity.images.attacker import AttackReport, attack, random_guess_solve_rate, train_attacker
from tcurity.images.bank import BankIndex, ImageBank
from tcurity.images.classifier import TileClassifier, load_local_classifier, load_registered_classifier
from tcurity.images.evaluate import (
    bank_precision,
    classification_metrics,
    problems_per_second,
    top_confusions,
)
from tcurity.images.plots import confusion_figure
from tcurity.images.tiles import list_tiles, select, split_tiles
from tcurity.images.tracking import Registration
from tcurity.images.train import load_images, read_training_summary
from tcurity.problems import ProblemConfig, ProblemGenerator

logger = logging.getLogger("pipelines.evaluate_images")


def evaluate_images(p: Params) -> dict[str, object]:
    """Computes, writes and attaches the held-out classifier and bank metrics; returns the metrics payload."""
    cfg, curate = p.evaluate_images, p.curate_bank
    model_dir, registration, classifier = checked_classifier(p)
    scores = pd.read_parquet(resolve(curate.scores_path))
    test = classification_metrics(scores, classifier.classes, "test")
    bank_dir = resolve(curate.bank_dir)
    threshold = BankIndex.read(bank_dir).confidence_threshold  # the gate curate_bank chose for this model
    precision = bank_precision(scores, threshold, "test")
    training = read_training_summary(model_dir)
    metrics: dict[str, object] = {
        "model": {"name": registration.name, "version": registration.version},
        "profile": training.profile,
        "val_accuracy": round(training.val_accuracy, 4),
        "test_accuracy": round(test.accuracy, 4),
        "per_class": test.per_class,
        "top_confusions": top_confusions(test.confusion, classifier.classes),
        "bank_precision": precision["precision"],
        "bank_precision_detail": {**precision, "confidence_threshold": threshold},
        "bank_size": ImageBank.load(bank_dir).sizes(),
    }
    write_outputs(cfg, metrics, test.confusion, classifier.classes)
    gated = {
        "val_accuracy": training.val_accuracy,
        "test_accuracy": test.accuracy,
        "bank_precision": float(precision["precision"]),
    }
    registry.set_version_metrics(registration.name, registration.version, gated)
    logger.info("phase B image metrics: %s", json.dumps(gated))
    return metrics


def evaluate_attacker(p: Params) -> dict[str, object]:
    """The attacker's solve rate and the generator's throughput; writes them and attaches the solve rate."""
    cfg, curate = p.evaluate_images, p.curate_bank
    model_dir, registration, classifier = checked_classifier(p)
    bank_dir = resolve(curate.bank_dir)
    problem_cfg = p.problems
    attack_full, attack_unseen = attacker_reports(p, classifier, bank_dir, problem_cfg, cfg.attack_problems)
    metrics: dict[str, object] = {
        "model": {"name": registration.name, "version": registration.version},
        "attacker_solve_rate": round(attack_full.solve_rate, 4),
        "attacker": attacker_detail(attack_full, attack_unseen, problem_cfg),
        "problems_per_s": throughput(classifier, model_dir, bank_dir, problem_cfg, cfg, p.base.seed),
        "problems_per_s_without_check": {
            "cpu": problems_per_second(
                partial(_fresh_generator, bank_dir, None, problem_cfg, p.base.seed),
                cfg.throughput_problems,
                cfg.throughput_batch,
            )
        },
        "torch_threads": torch.get_num_threads(),
    }
    out = resolve(cfg.attacker_metrics_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    write_headline(resolve(cfg.attacker_headline_path), attacker_headline(metrics))
    registry.set_version_metrics(
        registration.name, registration.version, {"attacker_solve_rate": attack_full.solve_rate}
    )
    logger.info("phase B attacker: solve rate %.4f", attack_full.solve_rate)
    return metrics


def attacker_detail(
    full: AttackReport, unseen: AttackReport, problem_cfg: ProblemConfig
) -> dict[str, object]:
    """The attacker's numbers beside the headline solve rate (and the floor of random guessing)."""
    return {
        "problems": full.problems,
        "tile_accuracy": round(full.tile_accuracy, 4),
        "solve_rate_unseen_tiles": round(unseen.solve_rate, 4),
        "tile_accuracy_unseen_tiles": round(unseen.tile_accuracy, 4),
        "random_guess_solve_rate": round(
            random_guess_solve_rate(problem_cfg.min_targets, problem_cfg.max_targets), 4
        ),
    }


def checked_classifier(p: Params) -> tuple[Path, Registration, TileClassifier]:
    """What both stages start from, on ``evaluate_images.num_threads`` torch threads: the trained model's folder,
    its registration and the registered classifier (:func:`registered_classifier`)."""
    if p.evaluate_images.num_threads > 0:
        torch.set_num_threads(p.evaluate_images.num_threads)
    model_dir = resolve(p.train_effnet.model_dir)
    registration = Registration.read(model_dir)
    return model_dir, registration, registered_classifier(p, registration, model_dir)


def registered_classifier(p: Params, registration: Registration, model_dir: Path) -> TileClassifier:
    """The registered version (CPU), after checking it predicts as the saved copy does.

    Raises:
        RuntimeError: when the registry's model and ``model_dir`` disagree (a stale or foreign version).
    """
    registry.configure(p)
    uri = f"models:/{registration.name}/{registration.version}"
    served = load_registered_classifier(uri, device="cpu")
    local = load_local_classifier(model_dir, device="cpu")
    tiles = list_tiles(resolve(p.data.tiles_dir))[::500]
    images = load_images(resolve(p.data.tiles_dir), tiles)
    gap = float(np.abs(served.predict_proba(images) - local.predict_proba(images)).max())
    if gap > 1e-4 or served.spec != local.spec:
        raise RuntimeError(f"{uri} differs from {model_dir} (max probability gap {gap:.2e})")
    return served


def attacker_reports(
    p: Params, classifier: TileClassifier, bank_dir: Path, problem_cfg: ProblemConfig, n_problems: int
) -> tuple[AttackReport, AttackReport]:
    """The attacker against problems from the whole bank (as served) and from held-out tiles only."""
    split = p.image_split
    cfg = p.attacker
    root = resolve(p.data.tiles_dir)
    tiles = list_tiles(root)
    train_tiles = select(
        tiles, split_tiles(tiles, split.val_fraction, split.test_fraction, p.base.seed), "train"
    )
    attacker = train_attacker(root, train_tiles, classifier.classes, cfg, p.base.seed)
    reports = []
    offsets = p.evaluate_images.seed_offsets
    for seed_offset, splits in ((offsets.attack_bank, None), (offsets.attack_test_tiles, ("test",))):
        bank = ImageBank.load(bank_dir, splits=splits)
        generator = ProblemGenerator(bank, classifier, problem_cfg, seed=p.base.seed + seed_offset)
        problems = generator.generate_batch(n_problems)
        report = attack(problems, attacker, cfg.select_prob, problem_cfg.min_targets, problem_cfg.max_targets)
        logger.info(
            "attacker on %s bank: %d/%d solved (tile accuracy %.3f)",
            "held-out" if splits else "full",
            report.solved,
            report.problems,
            report.tile_accuracy,
        )
        reports.append(report)
    return reports[0], reports[1]


def throughput(
    classifier: TileClassifier,
    model_dir: Path,
    bank_dir: Path,
    problem_cfg: ProblemConfig,
    cfg: EvaluateImagesParams,
    seed: int,
) -> dict[str, float | None]:
    """Problems/s with the batched classifier check, on CPU and (when present) on CUDA."""
    rates: dict[str, float | None] = {"cpu": None, "cuda": None}
    devices: Sequence[tuple[str, TileClassifier]] = [("cpu", classifier)]
    if torch.cuda.is_available():
        devices = [*devices, ("cuda", load_local_classifier(model_dir, device="cuda"))]
    for name, scorer in devices:
        make = partial(_fresh_generator, bank_dir, scorer, problem_cfg, seed)
        rates[name] = problems_per_second(make, cfg.throughput_problems, cfg.throughput_batch)
    return rates


def _fresh_generator(
    bank_dir: Path, scorer: TileClassifier | None, cfg: ProblemConfig, seed: int
) -> ProblemGenerator:
    return ProblemGenerator(ImageBank.load(bank_dir), scorer, cfg, seed=seed)


def write_outputs(
    cfg: EvaluateImagesParams, metrics: dict[str, object], confusion: np.ndarray, classes: Sequence[str]
) -> None:
    """The metrics JSON, its headline and the test confusion matrix figure."""
    out = resolve(cfg.metrics_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    write_headline(resolve(cfg.headline_path), image_headline(metrics))
    plots = resolve(cfg.plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    figure = confusion_figure(confusion, classes, "EfficientNet-Lite0 on held-out test tiles")
    figure.savefig(plots / "confusion_test.png", dpi=110)
    plt.close(figure)


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--attacker", action="store_true", help="run evaluate_attacker instead")
    args = parser.parse_args()
    (evaluate_attacker if args.attacker else evaluate_images)(stage_params(args.params))


if __name__ == "__main__":
    main()
