"""Held-out evaluation of Phase B's image side: classifier, bank, generator throughput, attacker.

Everything is measured on tiles the model never trained on (the test split) except the attacker's problems,
which come from the bank as served (see :mod:`tcurity.images.attacker`). ``bank_precision`` is the honest
counterpart of the curation gate on unseen tiles: of the held-out tiles the model scores at or above the
confidence threshold, the share whose dataset label is the predicted class. The gate in the bank also asks
for that agreement, so a bank tile is wrong only when label and confident model are wrong together.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tcurity.problems import ProblemGenerator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassificationReport:
    """Top-1 results of one split: accuracy, per-class precision/recall/support, confusion (rows: true)."""

    accuracy: float
    per_class: dict[str, dict[str, float | int]]
    confusion: np.ndarray


def classification_metrics(
    scores: pd.DataFrame, classes: Sequence[str], split: str = "test"
) -> ClassificationReport:
    """The :class:`ClassificationReport` of one split's rows of the curation scores."""
    rows = scores[scores["split"] == split]
    labels = list(classes)
    precision, recall, _, support = precision_recall_fscore_support(
        rows["label"], rows["predicted"], labels=labels, zero_division=0
    )
    per_class: dict[str, dict[str, float | int]] = {
        c: {"precision": round(float(p), 4), "recall": round(float(r), 4), "support": int(s)}
        for c, p, r, s in zip(labels, precision, recall, support, strict=True)
    }
    return ClassificationReport(
        accuracy=float((rows["label"] == rows["predicted"]).mean()),
        per_class=per_class,
        confusion=confusion_matrix(rows["label"], rows["predicted"], labels=labels),
    )


def bank_precision(scores: pd.DataFrame, threshold: float, split: str = "test") -> dict[str, float | int]:
    """Precision of the confidence gate on held-out tiles, judged against their labels.

    Returns:
        ``precision``: share of confidently predicted held-out tiles whose label is the prediction;
        ``coverage``: share of held-out tiles the full gate (label == prediction, confident) admits;
        ``admitted``: held-out tiles scored at or above the threshold.
    """
    rows = scores[scores["split"] == split]
    confident = rows[rows["confidence"] >= threshold]
    agree = confident["predicted"] == confident["label"]
    return {
        "precision": round(float(agree.mean()) if len(confident) else 0.0, 4),
        "coverage": round(float(agree.sum() / max(1, len(rows))), 4),
        "admitted": len(confident),
        "held_out": len(rows),
    }


def top_confusions(matrix: np.ndarray, classes: Sequence[str], n: int = 6) -> list[dict[str, object]]:
    """The largest off-diagonal cells (true → predicted), to review the confusable pairs."""
    cells = [
        (int(matrix[i, j]), classes[i], classes[j])
        for i in range(len(classes))
        for j in range(len(classes))
        if i != j and matrix[i, j] > 0
    ]
    return [{"true": t, "predicted": p, "count": c} for c, t, p in sorted(cells, reverse=True)[:n]]


def problems_per_second(
    make_generator: Callable[[], ProblemGenerator], n_problems: int, batch: int, repeats: int = 3
) -> float:
    """Median over ``repeats`` of problems/s, generating ``n_problems`` in batches of ``batch``.

    Each repeat uses a fresh generator (cold image cache) after one warm-up batch, so the figure includes
    decoding bank tiles, varying, encoding, and the batched classifier check.
    """
    rates = []
    for _ in range(repeats):
        generator = make_generator()
        generator.generate_batch(batch)
        started = time.perf_counter()
        made = 0
        while made < n_problems:
            made += len(generator.generate_batch(min(batch, n_problems - made)))
        rates.append(made / (time.perf_counter() - started))
    logger.info("problems/s over %d repeats: %s", repeats, ", ".join(f"{r:.1f}" for r in rates))
    return round(statistics.median(rates), 2)
