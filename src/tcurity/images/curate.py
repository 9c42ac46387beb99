"""Curation: the classifier scores every labelled tile, and only tiles it agrees with confidently are served.

The gate admits a tile when the model's top class is the tile's label with at least the configured
probability. Labels of the public tile set are sometimes wrong and some tiles are ambiguous; a tile survives
only if the label and a confident model agree on it. ``other`` tiles pass the same gate and serve as
distractors only. Scores of every tile (admitted or not) are kept for evaluation.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from tcurity.images.bank import IMAGES_DIR, BankIndex, BankTile
from tcurity.images.tiles import Tile

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("path", "label", "split", "predicted", "confidence", "label_prob")
ProbaFn = Callable[[Sequence[Image.Image]], np.ndarray]


def score_tiles(
    classifier_proba: ProbaFn,
    classes: Sequence[str],
    root: Path,
    tiles: Sequence[Tile],
    *,
    splits: Mapping[str, str],
    chunk: int = 512,
) -> pd.DataFrame:
    """One row per tile: label, split, the model's top class, its probability and the label's probability.

    Args:
        classifier_proba: batched scorer (``TileClassifier.predict_proba``).
        classes: the scorer's output order.
        root: the tile set's root; ``tiles`` paths are relative to it.
        splits: split of each tile path.
        chunk: tiles decoded and scored at a time (bounds memory).
    """
    index = {c: i for i, c in enumerate(classes)}
    parts = []
    for start in range(0, len(tiles), chunk):
        batch = tiles[start : start + chunk]
        probs = classifier_proba(_decode(root, batch))
        top = probs.argmax(axis=1)
        label_idx = np.array([index[t.label] for t in batch])
        parts.append(
            pd.DataFrame(
                {
                    "path": [t.path for t in batch],
                    "label": [t.label for t in batch],
                    "split": [splits[t.path] for t in batch],
                    "predicted": [classes[i] for i in top],
                    "confidence": probs[np.arange(len(batch)), top].astype(float),
                    "label_prob": probs[np.arange(len(batch)), label_idx].astype(float),
                }
            )
        )
        logger.info("scored %d/%d tiles", min(start + chunk, len(tiles)), len(tiles))
    return pd.concat(parts, ignore_index=True)


def _decode(root: Path, tiles: Sequence[Tile]) -> list[Image.Image]:
    images = []
    for tile in tiles:
        with Image.open(root / tile.path) as raw:
            images.append(raw.convert("RGB"))
    return images


def choose_threshold(
    scores: pd.DataFrame, floor: float, target_precision: float, split: str = "val"
) -> tuple[float, float]:
    """The gate's confidence for this model: the lowest confidence a ``split`` tile was scored at, not below
    ``floor``, at which the ``split`` tiles the model is that confident about carry its prediction as their label
    at least ``target_precision`` of the time.

    Chosen on validation tiles (never the test tiles, which measure the bank), so the gate follows the model it
    was trained with rather than a number fixed for an earlier one. When no confidence reaches the target, the
    one with the highest precision is taken (ties: the lowest), and the caller reports the miss.

    Returns:
        The threshold and the ``split`` precision at it.

    Raises:
        ValueError: when no ``split`` tile is as confident as ``floor``.
    """
    rows = scores[scores["split"] == split].sort_values("confidence", ascending=False)
    rows = rows[rows["confidence"] >= floor]
    if rows.empty:
        raise ValueError(f"no {split} tile is scored at confidence >= {floor}: the classifier cannot curate")
    agree = (rows["predicted"] == rows["label"]).to_numpy()
    # Candidates are the confidences the split's tiles were scored at (a gate below the lowest admitted one would
    # admit tiles at confidences no validation tile vouched for); the gate "confidence >= c_k" takes every tile at
    # c_k, ties included.
    confidence = rows["confidence"].to_numpy()
    last_of_value = np.r_[confidence[1:] != confidence[:-1], True]
    cut = confidence[last_of_value]
    precision = (np.cumsum(agree) / np.arange(1, len(agree) + 1))[last_of_value]
    reaching = np.flatnonzero(
        precision >= target_precision
    )  # candidates run from the highest confidence down
    best = int(reaching.max()) if reaching.size else int(np.flatnonzero(precision == precision.max()).max())
    return float(cut[best]), float(precision[best])


def gate(scores: pd.DataFrame, threshold: float) -> pd.Series:
    """Which tiles enter the bank: predicted class == label and confidence >= ``threshold``."""
    return (scores["predicted"] == scores["label"]) & (scores["confidence"] >= threshold)


def write_bank(
    scores: pd.DataFrame,
    tiles_root: Path,
    bank_dir: Path,
    threshold: float,
    model: Mapping[str, str],
) -> BankIndex:
    """Rebuilds ``bank_dir`` from the admitted tiles: ``images/<class>/<file>`` plus ``index.json``.

    The folder is emptied first, so the bank is exactly what this gate admitted (a DVC output).
    """
    if bank_dir.exists():
        shutil.rmtree(bank_dir)
    (bank_dir / IMAGES_DIR).mkdir(parents=True)
    admitted = scores[gate(scores, threshold)].sort_values("path")
    entries = []
    for row in admitted.itertuples(index=False):
        relative = f"{IMAGES_DIR}/{row.path}"
        (bank_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tiles_root / str(row.path), bank_dir / relative)
        entries.append(
            BankTile(relative, str(row.label), round(float(str(row.confidence)), 6), str(row.split))
        )
    classes = tuple(sorted(scores["label"].unique()))
    index = BankIndex(tuple(entries), classes, threshold, dict(model))
    index.write(bank_dir)
    logger.info("bank: %d of %d tiles admitted at confidence >= %.2f", len(entries), len(scores), threshold)
    return index


def bank_summary(scores: pd.DataFrame, threshold: float) -> dict[str, object]:
    """Per class: tiles scored, admitted, and the admitted share (the stage's metrics file)."""
    admitted = gate(scores, threshold)
    per_class = {
        str(label): {
            "scored": len(group),
            "admitted": int(admitted[group.index].sum()),
            "admitted_share": round(float(admitted[group.index].mean()), 4),
        }
        for label, group in scores.groupby("label")
    }
    return {
        "confidence_threshold": threshold,
        "admitted": int(admitted.sum()),
        "scored": len(scores),
        "per_class": per_class,
    }
