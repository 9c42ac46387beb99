"""Phase B's behaviour model beyond the shared metrics: unseen families and the cost of scoring one answer.

A supervised model is only as good as the bots it learned from, so each family is also scored by a forest that
never saw it (trained exactly as the registered one, on the other families): its block rate is the honest
estimate for a new kind of bot. Scoring cost is measured in process, features included, on real answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tcurity.config import TrainPhaseBParams
from tcurity.datasets import TraceRecord
from tcurity.evaluate.behaviour import ScoredSet, roc_auc
from tcurity.features.phase_b import phase_b_features
from tcurity.scoring import ModelBundle
from tcurity.traces import GridTask
from tcurity.train.phase_b import calibration_humans, fit_random_forest, training_rows

logger = logging.getLogger(__name__)


def scored(bundle: ModelBundle, rows: pd.DataFrame) -> ScoredSet:
    """Scores of a group of feature rows and whether each answer had the shape of a complete one."""
    return ScoredSet(
        bundle.scores(rows[bundle.feature_names].to_numpy(np.float64)), rows["geometry_passed"].to_numpy(bool)
    )


def leave_one_family_out(
    table: pd.DataFrame, names: list[str], cfg: TrainPhaseBParams, grid_ms: float, seed: int
) -> dict[str, float]:
    """Block rate of each family's evaluation bots under a forest trained without that family.

    Each forest is fitted like the registered one (same parameters, training users, training bots of every
    other family) and thresholded on the calibration users; blocking uses the full decision (shape and score).
    """
    x_calib = calibration_humans(table, names)
    test_bots = table[(table.source == "bot") & (table.split == "test") & (table.sampling == "native")]
    rates: dict[str, float] = {}
    for family, rows in test_bots.groupby("family"):
        x, y = training_rows(table, names, exclude_family=str(family))
        bundle, _ = fit_random_forest(x, y, x_calib, names, cfg, grid_ms, seed)
        rates[str(family)] = float(1.0 - np.mean(scored(bundle, rows).passed(bundle.threshold)))
        logger.info("left out %s: %.3f blocked", family, rates[str(family)])
    return rates


POPULATION_TEST_SPLITS = {"sapimouse": "test", "balabit": "balabit_test"}
"""Where each population's held-out people are in the feature table (``tcurity.data.populations``)."""


def people(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """The people's answers of one split label."""
    return table[(table.source == "human") & (table.split == split)]


def evaluation_bots(table: pd.DataFrame) -> pd.DataFrame:
    """Every family's evaluation bots as emitted."""
    return table[(table.source == "bot") & (table.split == "test") & (table.sampling == "native")]


def human_pass_rate_by_population(bundle: ModelBundle, table: pd.DataFrame) -> dict[str, float]:
    """Share of each population's test people's answers the full decision (shape and score) lets through."""
    return {
        population: float(np.mean(scored(bundle, people(table, split)).passed(bundle.threshold)))
        for population, split in POPULATION_TEST_SPLITS.items()
        if len(people(table, split))
    }


def population_report(bundle: ModelBundle, table: pd.DataFrame, split: str) -> dict[str, float]:
    """How a model meets one set of people: their pass rate, and its AUC for them against every evaluation bot."""
    humans = scored(bundle, people(table, split))
    bots = scored(bundle, evaluation_bots(table))
    return {
        "human_pass_rate": float(np.mean(humans.passed(bundle.threshold))),
        "auc": roc_auc(humans.scores, bots.scores),
        "n_human": len(humans.scores),
    }


def cross_population(
    bundle: ModelBundle, table: pd.DataFrame, cfg: TrainPhaseBParams, grid_ms: float, seed: int
) -> dict[str, dict[str, float]]:
    """Train on one population, score the people of the other (and, for reference, the same population's).

    ``sapimouse_to_balabit`` is the registered model (SapiMouse's training people, thresholded on SapiMouse's
    calibration people) meeting Balabit's test people; ``balabit_to_sapimouse`` is a forest fitted like it on
    Balabit's training people (and the same training bots), thresholded on Balabit's calibration people, meeting
    SapiMouse's test people. ``*_to_self`` are each model on its own population's test people.
    """
    out = {
        "sapimouse_to_sapimouse": population_report(bundle, table, "test"),
        "sapimouse_to_balabit": population_report(bundle, table, "balabit_test"),
    }
    names = bundle.feature_names
    x, y = training_rows(table, names, human_split="balabit_train")
    balabit, _ = fit_random_forest(
        x, y, calibration_humans(table, names, "balabit_calib"), names, cfg, grid_ms, seed
    )
    out["balabit_to_balabit"] = population_report(balabit, table, "balabit_test")
    out["balabit_to_sapimouse"] = population_report(balabit, table, "test")
    return out


def single_feature_separation(table: pd.DataFrame, names: list[str]) -> dict[str, dict[str, float]]:
    """Each feature alone against each family, on training rows only: SapiMouse's training people against the
    training bots. ``max(AUC, 1 − AUC)`` per family and feature (0.5: the feature cannot see the family).

    The quick screen that decides which browser-resolution features the forest reads; no calibration, test or
    attacker person and no evaluation bot is read.
    """
    humans = people(table, "train")[names].to_numpy(np.float64)
    bots = table[(table.source == "bot") & (table.split == "train")]
    out: dict[str, dict[str, float]] = {}
    for family, rows in bots.groupby("family"):
        values = rows[names].to_numpy(np.float64)
        out[str(family)] = {}
        for i, name in enumerate(names):
            auc = roc_auc(humans[:, i], values[:, i])
            out[str(family)][name] = round(max(auc, 1.0 - auc), 4)
    return out


def scoring_latency_ms(bundle: ModelBundle, records: Sequence[TraceRecord]) -> dict[str, dict[str, float]]:
    """Percentiles of the in-process cost of scoring one answer: features plus the forest's score.

    Each answer is timed on its own, as serving meets it (one trace, one call): wall-clock time (``wall``, what
    a request waits) and the thread's CPU time (``cpu``, what it costs; on a shared machine the wall-clock also
    counts the neighbours). A first, untimed pass over the same answers warms caches and lets the CPU reach
    its working clock, as a serving process under traffic is (cold, the first hundred answers take about
    half as long again).
    """
    for r in records:
        assert isinstance(r.task, GridTask)
        bundle.scores(phase_b_features(r.task, r.arrays, bundle.grid_ms))
    wall, cpu = [], []
    for r in records:
        assert isinstance(r.task, GridTask)
        start, start_cpu = time.perf_counter(), time.thread_time()
        bundle.scores(phase_b_features(r.task, r.arrays, bundle.grid_ms))
        cpu.append((time.thread_time() - start_cpu) * 1000.0)
        wall.append((time.perf_counter() - start) * 1000.0)
    return {
        name: {
            "p50": float(np.percentile(v, 50)),
            "p99": float(np.percentile(v, 99)),
            "min": float(np.min(v)),
        }
        for name, v in (("wall", wall), ("cpu", cpu))
    }
