"""Held-out evaluation of a behaviour model: humans never seen in training against every bot family.

The numbers follow the metrics-file contract of ``reports/metrics/phase_a.json`` (and Phase B's behaviour file):
human pass rate at the promoted threshold, block rate per bot family, ROC AUC, and bot recall at a fixed human
false-reject rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score, roc_curve


@dataclass(frozen=True)
class ScoredSet:
    """Scores of one group of traces (higher = more human) and whether each passed the geometry gate."""

    scores: NDArray[np.float64]
    geometry_passed: NDArray[np.bool_]

    def passed(self, threshold: float) -> NDArray[np.bool_]:
        """A trace passes when it follows the task's geometry *and* scores at or above the threshold."""
        return np.asarray(self.geometry_passed & (self.scores >= threshold), dtype=np.bool_)


def recall_at_frr(human: NDArray[np.float64], bot: NDArray[np.float64], frr: float) -> float:
    """Share of bots blocked when the threshold rejects exactly ``frr`` of the humans."""
    threshold = float(np.quantile(human, frr))
    return float(np.mean(bot < threshold))


def roc_auc(human: NDArray[np.float64], bot: NDArray[np.float64]) -> float:
    """ROC AUC of the score for telling humans (positive) from bots."""
    labels = np.concatenate([np.ones(len(human)), np.zeros(len(bot))])
    return float(roc_auc_score(labels, np.concatenate([human, bot])))


def behaviour_metrics(
    human: ScoredSet,
    bots: Mapping[str, ScoredSet],
    family_kind: Mapping[str, str],
    threshold: float,
    frr_for_recall: float,
    model: Mapping[str, str],
) -> dict[str, object]:
    """The metrics-file payload for one model on held-out humans and every bot family.

    AUC and recall use the model's score alone (geometry-blocked bots count with their score); pass and block
    rates use the full decision (geometry gate and threshold), as the product applies it.
    """
    all_bots = np.concatenate([b.scores for b in bots.values()])
    return {
        "human_pass_rate": float(np.mean(human.passed(threshold))),
        "auc": roc_auc(human.scores, all_bots),
        "bot_recall_at_1pct_frr": recall_at_frr(human.scores, all_bots, frr_for_recall),
        "bot_block_rate": {name: float(1.0 - np.mean(s.passed(threshold))) for name, s in bots.items()},
        "bot_model_block_rate": {name: float(np.mean(s.scores < threshold)) for name, s in bots.items()},
        "bot_auc": {name: roc_auc(human.scores, s.scores) for name, s in bots.items()},
        "family_kind": dict(family_kind),
        "n_human": len(human.scores),
        "n_bot": {name: len(s.scores) for name, s in bots.items()},
        "threshold": threshold,
        "model": dict(model),
    }


def roc_points(human: NDArray[np.float64], bot: NDArray[np.float64], n: int = 200) -> list[dict[str, float]]:
    """A down-sampled ROC curve (false-positive rate = bots passed, true-positive rate = humans passed)."""
    labels = np.concatenate([np.ones(len(human)), np.zeros(len(bot))])
    fpr, tpr, _ = roc_curve(labels, np.concatenate([human, bot]))
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(n, len(fpr))).astype(int))
    return [{"fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in idx]


def gated_metrics(metrics: Mapping[str, object]) -> dict[str, float]:
    """The metrics the promotion step compares (all higher-is-better), from a :func:`behaviour_metrics` payload:
    the people's pass rate, AUC, the weakest family's block rate overall and per kind, and the weakest
    leave-one-family-out block rate where the payload has one. Attached to the model version as tags."""
    blocks, kinds = metrics["bot_block_rate"], metrics["family_kind"]
    assert isinstance(blocks, dict) and isinstance(kinds, dict)
    gated = {
        "human_pass_rate": float(metrics["human_pass_rate"]),  # type: ignore[arg-type]
        "auc": float(metrics["auc"]),  # type: ignore[arg-type]
        "block_rate_min": min(float(v) for v in blocks.values()),
        "naive_block_rate_min": min(float(v) for f, v in blocks.items() if kinds[f] == "naive"),
        "humanised_block_rate_min": min(float(v) for f, v in blocks.items() if kinds[f] == "humanised"),
    }
    lofo = metrics.get("leave_one_family_out")
    if isinstance(lofo, dict):
        gated["lofo_block_rate_min"] = min(float(v) for v in lofo.values())
    return gated


def target_report(metrics: Mapping[str, object], targets: Mapping[str, float]) -> dict[str, object]:
    """The product's targets next to the measured gated metrics (met or not), so the report says it plainly."""
    gated = gated_metrics(metrics)
    return {k: {"target": t, "measured": gated[k], "met": gated[k] >= t} for k, t in targets.items()}
