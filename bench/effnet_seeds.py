"""A tile classifier profile on three seeds: validation accuracy, time, and bank precision on held-out tiles.

Trains a profile of ``params.yaml: train_effnet.profiles`` (``--profile``, default ``cpu``) on the CPU exactly as the ``train_effnet`` stage does (:func:`tcurity.images.
train.fit`, one torch thread, the frozen stages' maps from the stage's cache, computed once when missing) with the
seeds ``base.seed``, ``base.seed + 1`` and ``base.seed + 2``, and writes per seed to
``reports/bench/effnet_seeds.json``:

- the kept model's validation accuracy (the whole network on the validation tiles, as serving runs it), the
  best epoch and the seconds the run took (the maps' computation is reported once, beside);
- the precision of confident predictions at several thresholds on the **validation** tiles (where the curation
  gate's confidence is chosen, :func:`tcurity.images.curate.choose_threshold`), and ``bank_precision`` on the
  **test** tiles at the confidence chosen for that seed's model (the figure the promotion gate reads,
  :func:`tcurity.images.evaluate.bank_precision`);
- a digest of the trained weights: the same seed gives the same digest on a rerun (deterministic seeds).

Registers nothing and writes no model. `cpu_cached` on one core: about 2 CPU minutes for the maps (once), 3 per seed.

    python -m bench.effnet_seeds [--profile cpu_cached] [--seeds 3] [--jobs 3] [--max-train-minutes M] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tcurity.config import PROJECT_ROOT, ProfileName, params, resolve, setup_logging
from tcurity.images.classes import CLASSES
from tcurity.images.classifier import TileClassifier
from tcurity.images.curate import choose_threshold
from tcurity.images.effnet import build_lite0
from tcurity.images.evaluate import bank_precision
from tcurity.images.features import cached_features
from tcurity.images.tiles import Tile, list_tiles, select, split_tiles
from tcurity.images.train import TrainConfig, fit, load_images

logger = logging.getLogger("bench.effnet_seeds")
OUT = PROJECT_ROOT / "reports/bench/effnet_seeds.json"
VAL_THRESHOLDS = (0.9, 0.95, 0.97, 0.98, 0.99)


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) over the state dict's tensors in order."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def scores(classifier: TileClassifier, root: Path, tiles: list[Tile], split: str) -> pd.DataFrame:
    """Curation-style rows (label, prediction, confidence) of ``tiles`` under ``classifier``."""
    proba = classifier.predict_proba(load_images(root, tiles))
    predicted = proba.argmax(axis=1)
    return pd.DataFrame(
        {
            "label": [t.label for t in tiles],
            "split": split,
            "predicted": [classifier.classes[i] for i in predicted],
            "confidence": proba.max(axis=1),
        }
    )


def one_seed(seed: int, profile_name: ProfileName, max_train_minutes: float | None) -> dict[str, object]:
    """Trains ``profile_name`` with ``seed`` (one torch thread, on the CPU) and measures it; the seed's row."""
    torch.set_num_threads(1)
    setup_logging("INFO")
    p = params()
    train_cfg = p.train_effnet
    curate = p.curate_bank
    profile = train_cfg.profiles[profile_name]
    if max_train_minutes is not None:
        profile = profile.model_copy(update={"max_train_minutes": max_train_minutes})
    root, (train, val, test) = resolve(p.data.tiles_dir), _splits()
    cfg = TrainConfig.from_profile(profile, seed=seed, device="cpu")
    started, started_cpu = time.perf_counter(), time.process_time()
    result = fit(root, train, val, cfg, cache_dir=resolve(train_cfg.feature_cache_dir))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    classifier = TileClassifier(result.model, result.spec, device="cpu")
    val_rows = scores(classifier, root, val, "val")
    test_rows = scores(classifier, root, test, "test")
    threshold, _ = choose_threshold(val_rows, curate.confidence_threshold, curate.target_precision)
    row: dict[str, object] = {
        "seed": seed,
        "val_accuracy": round(result.val_accuracy, 4),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "val_accuracy_by_epoch": [round(s.val_accuracy, 4) for s in result.history],
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "val_precision_at": {
            str(t): bank_precision(val_rows, t, split="val")["precision"] for t in VAL_THRESHOLDS
        },
        "val_coverage_at": {
            str(t): bank_precision(val_rows, t, split="val")["coverage"] for t in VAL_THRESHOLDS
        },
        "bank_precision": bank_precision(test_rows, threshold),
        "curation_threshold": threshold,
        "test_accuracy": round(float((test_rows["label"] == test_rows["predicted"]).mean()), 4),
        "weights_digest": weights_digest(result.model),
    }
    logger.info("seed %d: %s", seed, json.dumps(row))
    return row


def _splits() -> tuple[list[Tile], list[Tile], list[Tile]]:
    p = params()
    split_cfg = p.image_split
    tiles = list_tiles(resolve(p.data.tiles_dir))
    splits = split_tiles(tiles, split_cfg.val_fraction, split_cfg.test_fraction, p.base.seed)
    train, val, test = (select(tiles, splits, s) for s in ("train", "val", "test"))
    return train, val, test


def run(
    n_seeds: int, profile_name: ProfileName, jobs: int, max_train_minutes: float | None
) -> dict[str, object]:
    """The frozen stages' maps once (cached), then the profile once per seed, ``jobs`` seeds at a time."""
    torch.set_num_threads(1)
    p = params()
    train_cfg = p.train_effnet
    profile = train_cfg.profiles[profile_name]
    train, val, _ = _splits()
    maps_seconds, maps_cpu = None, None
    if profile.cache_features:  # computed here once, so every seed reads the same file
        started_cpu = time.process_time()
        maps = cached_features(
            resolve(train_cfg.feature_cache_dir),
            build_lite0(num_classes=len(CLASSES)),
            resolve(p.data.tiles_dir),
            [*train, *val],
            profile.input_size,
            profile.freeze_stages,
            torch.device("cpu"),
        )
        maps_seconds, maps_cpu = round(maps.seconds, 1), round(time.process_time() - started_cpu, 1)
    seeds = list(range(p.base.seed, p.base.seed + n_seeds))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(one_seed, seeds, [profile_name] * len(seeds), [max_train_minutes] * len(seeds)))
    accuracies = [float(r["val_accuracy"]) for r in runs]  # type: ignore[arg-type]
    return {
        "profile_name": profile_name,
        "profile": profile.model_dump(),
        "max_train_minutes_used": max_train_minutes or profile.max_train_minutes,
        "num_threads": 1,
        "jobs": jobs,
        "feature_maps_seconds": maps_seconds,
        "feature_maps_cpu_seconds": maps_cpu,
        "curation": {
            "floor": p.curate_bank.confidence_threshold,
            "target_precision": p.curate_bank.target_precision,
        },
        "runs": runs,
        "val_accuracy_min": min(accuracies),
        "val_accuracy_mean": round(float(np.mean(accuracies)), 4),
        "context": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_1m_at_end": round(os.getloadavg()[0], 2),
            "torch": torch.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds, from base.seed on")
    parser.add_argument(
        "--profile", default="cpu", help="a profile of train_effnet.profiles, trained on the CPU"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="seeds trained at once (one process, one thread each)"
    )
    parser.add_argument(
        "--max-train-minutes",
        type=float,
        default=None,
        help="override the profile's wall-clock budget (a loaded machine's wall clock is not the CPU's)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    setup_logging("INFO")
    report = run(args.seeds, args.profile, args.jobs, args.max_train_minutes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
