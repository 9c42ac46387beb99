"""What a behaviour model's evaluation stage writes: the full metrics, the headline and the figures.

Phase A's and Phase B's stages (``pipelines/evaluate_phase_a.py``, ``pipelines/evaluate_phase_b.py``) write the
same set, named by phase: the metrics JSON, its headline (:mod:`tcurity.evaluate.headline`), the people's and
bots' score histograms, each family's block rate, and the ROC points DVC plots.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tcurity.config import resolve
from tcurity.evaluate.behaviour import ScoredSet, roc_points
from tcurity.evaluate.headline import behaviour_headline, write_headline
from tcurity.evaluate.plots import block_rates, score_distributions


class EvaluationFiles(Protocol):
    """A ``params.yaml`` evaluation section's files (``evaluate_phase_a``, ``evaluate_phase_b``)."""

    @property
    def metrics_path(self) -> Path: ...

    @property
    def headline_path(self) -> Path: ...

    @property
    def plots_dir(self) -> Path: ...


@dataclass(frozen=True)
class ReportPaths:
    """Where one phase's report goes: ``metrics``, ``headline`` and, in ``plots_dir``, ``{prefix}test_scores.png``,
    ``{prefix}block_rates.png`` and ``{prefix}roc.json``."""

    metrics: Path
    headline: Path
    plots_dir: Path
    prefix: str = ""

    @classmethod
    def of(cls, section: EvaluationFiles, prefix: str = "") -> ReportPaths:
        """The paths a section names, resolved against the project root."""
        return cls(
            resolve(section.metrics_path), resolve(section.headline_path), resolve(section.plots_dir), prefix
        )


@dataclass(frozen=True)
class ReportTitles:
    """The figures' titles: the score histograms' and the block rates'."""

    scores: str
    blocked: str


def write_behaviour_report(
    paths: ReportPaths,
    titles: ReportTitles,
    metrics: Mapping[str, object],
    humans: ScoredSet,
    bots: Mapping[str, ScoredSet],
    kinds: Mapping[str, str],
    threshold: float,
) -> None:
    """Writes the metrics (sorted keys), their headline and the figures of one evaluation; ``threshold`` is the
    line drawn on the score histograms."""
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    write_headline(paths.headline, behaviour_headline(metrics))
    plots = paths.plots_dir
    plots.mkdir(parents=True, exist_ok=True)
    bot_scores = {f: s.scores for f, s in bots.items()}
    score_distributions(humans.scores, bot_scores, threshold, titles.scores).savefig(
        plots / f"{paths.prefix}test_scores.png", dpi=110
    )
    rates = metrics["bot_block_rate"]
    assert isinstance(rates, dict)
    block_rates(rates, kinds, titles.blocked).savefig(plots / f"{paths.prefix}block_rates.png", dpi=110)
    all_bots = np.concatenate(list(bot_scores.values()))
    (plots / f"{paths.prefix}roc.json").write_text(json.dumps(roc_points(humans.scores, all_bots), indent=1))
