"""A dozen headline numbers per model, beside the full metrics file each evaluation stage writes.

The full files (``reports/metrics/*.json``) keep every family, population and layer; DVC reads only these short
files as ``metrics``, so ``dvc metrics show`` and ``dvc metrics diff`` print a table a person can read. The
headline is computed from the full payload (never measured again), so the two cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from tcurity.evaluate.behaviour import gated_metrics

Headline = dict[str, float | int | str]


def _version(metrics: Mapping[str, object]) -> int:
    model = metrics["model"]
    assert isinstance(model, dict)
    return int(model["version"])


def _weakest(rates: object) -> tuple[str, float]:
    """The key with the lowest rate of a ``{name: rate}`` mapping (ties: the first in sorted order)."""
    assert isinstance(rates, dict) and rates
    name = min(sorted(rates), key=lambda k: float(rates[k]))
    return str(name), float(rates[name])


def behaviour_headline(metrics: Mapping[str, object]) -> Headline:
    """The headline of a behaviour model's payload (Phase A's or Phase B's): the promotion gates' numbers
    (:func:`tcurity.evaluate.behaviour.gated_metrics`), the weakest bot family, the pass rate per population,
    recall at the fixed false-reject rate, the weakest family when bots are re-sampled like people, how many
    product targets are met, and the scoring time where the stage measured one."""
    headline: Headline = {"model_version": _version(metrics), **gated_metrics(metrics)}
    headline["weakest_family"] = _weakest(metrics["bot_block_rate"])[0]
    by_population = metrics.get("human_pass_rate_by_population")
    if isinstance(by_population, dict):
        for population, rate in sorted(by_population.items()):
            headline[f"human_pass_rate_{population}"] = float(rate)
    headline["bot_recall_at_1pct_frr"] = float(metrics["bot_recall_at_1pct_frr"])  # type: ignore[arg-type]
    if "human_sampling" in metrics:
        headline["human_sampling_block_rate_min"] = _weakest(metrics["human_sampling"])[1]
    targets = metrics.get("targets")
    if isinstance(targets, dict):
        headline["targets_met"] = sum(bool(t["met"]) for t in targets.values())
        headline["targets"] = len(targets)
    score_ms = metrics.get("score_ms")
    if isinstance(score_ms, dict):
        headline["score_ms_p99"] = float(score_ms["p99"])
    return headline


def image_headline(metrics: Mapping[str, object]) -> Headline:
    """The headline of the image classifier's payload: accuracy on validation and held-out tiles, the class it
    recalls worst, and the curated bank's precision, coverage and size."""
    per_class = metrics["per_class"]
    assert isinstance(per_class, dict)
    worst, recall = _weakest({c: v["recall"] for c, v in per_class.items()})
    bank = metrics["bank_precision_detail"]
    sizes = metrics["bank_size"]
    assert isinstance(bank, dict) and isinstance(sizes, dict)
    return {
        "model_version": _version(metrics),
        "val_accuracy": float(metrics["val_accuracy"]),  # type: ignore[arg-type]
        "test_accuracy": float(metrics["test_accuracy"]),  # type: ignore[arg-type]
        "worst_class": worst,
        "worst_class_recall": recall,
        "bank_precision": float(bank["precision"]),
        "bank_coverage": float(bank["coverage"]),
        "bank_tiles": sum(int(n) for n in sizes.values()),
    }


def attacker_headline(metrics: Mapping[str, object]) -> Headline:
    """The headline of the image attacker's payload: how often it solves a problem from the whole bank and from
    tiles the classifier never saw, against a random guess, and how many problems per second the generator makes
    on CPU with the classifier's check."""
    attacker, rate = metrics["attacker"], metrics["problems_per_s"]
    assert isinstance(attacker, dict) and isinstance(rate, dict)
    return {
        "model_version": _version(metrics),
        "attacker_solve_rate": float(metrics["attacker_solve_rate"]),  # type: ignore[arg-type]
        "attacker_solve_rate_unseen_tiles": float(attacker["solve_rate_unseen_tiles"]),
        "random_guess_solve_rate": float(attacker["random_guess_solve_rate"]),
        "problems_per_s_cpu": float(rate["cpu"]),
    }


def write_headline(path: Path, headline: Headline) -> None:
    """Writes a headline file (sorted keys, so a re-run with the same numbers changes no byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(headline, indent=2, sort_keys=True) + "\n")
