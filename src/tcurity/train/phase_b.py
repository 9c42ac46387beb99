"""Training Phase B's behaviour model: a supervised Random Forest, people against solver bots.

Unlike Phase A's one-class model, Phase B's forest learns from both sides: the training users' answers and the
*training* bots (every family, drawn from a seed the evaluation bots do not share). Classes are weighted to
balance, the trees are kept shallow enough for a flattened walk of well under a millisecond, and the threshold is
set on the *calibration* users at the human false-reject rate ``target_frr``. The bundle's score is the forest's
human probability (higher is more human), so it reads like Phase A's.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from numpy.typing import NDArray
from sklearn.ensemble import RandomForestClassifier

from tcurity import registry
from tcurity.config import Params, TrainPhaseBParams
from tcurity.features.phase_b import FEATURE_NAMES as PHASE_B_FEATURES
from tcurity.scoring import ModelBundle, flatten_random_forest
from tcurity.train.behaviour import balanced_forest, log_bundle, reference_ranges

logger = logging.getLogger(__name__)

BOT = 1  # the forest's positive class; the bundle scores 1 - P(bot)


def model_features(cfg: TrainPhaseBParams) -> list[str]:
    """The features the model reads: every Phase B feature but those ``exclude_features`` names.

    Raises:
        ValueError: when ``exclude_features`` names an unknown feature.
    """
    unknown = set(cfg.exclude_features) - set(PHASE_B_FEATURES)
    if unknown:
        raise ValueError(f"train_phase_b.exclude_features names unknown features: {sorted(unknown)}")
    return [f for f in PHASE_B_FEATURES if f not in cfg.exclude_features]


def training_rows(
    table: pd.DataFrame, names: list[str], exclude_family: str | None = None, human_split: str = "train"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Features and labels (1 = bot) of the training people and training bots (optionally without one family).

    ``human_split`` names the people: ``train`` (SapiMouse's training people, the served model's) or
    ``balabit_train`` (the second population's, for the cross-population check).
    """
    people = (table.source == "human") & (table.split == human_split)
    rows = table[people | ((table.source == "bot") & (table.split == "train"))]
    if exclude_family is not None:
        rows = rows[rows.family != exclude_family]
    return rows[names].to_numpy(np.float64), np.asarray(rows.source == "bot", dtype=np.int64)


def calibration_humans(table: pd.DataFrame, names: list[str], split: str = "calib") -> NDArray[np.float64]:
    """Feature rows of the calibration people's answers (the threshold's reference; ``split`` as
    :func:`training_rows`' ``human_split``)."""
    rows = table[(table.source == "human") & (table.split == split)]
    return rows[names].to_numpy(np.float64)


def fit_random_forest(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    x_calib: NDArray[np.float64],
    feature_names: list[str],
    cfg: TrainPhaseBParams,
    grid_ms: float,
    seed: int,
) -> tuple[ModelBundle, RandomForestClassifier]:
    """Fits the class-balanced forest and sets the threshold on the calibration humans.

    Returns:
        The bundle serving will use (no transform: trees need none) and the sklearn model it was flattened from.
    """
    forest = balanced_forest(x, y, cfg, seed)
    low, high = reference_ranges(x[y != BOT])
    bundle = ModelBundle(
        kind="random_forest",
        feature_names=list(feature_names),
        forest=flatten_random_forest(forest, positive_class=BOT),
        threshold=0.0,
        transform=None,
        reference_low=low,
        reference_high=high,
        grid_ms=grid_ms,
    )
    bundle.threshold = float(np.quantile(bundle.scores(x_calib), cfg.target_frr))
    logger.info(
        "fitted random forest on %d rows (%d bots); threshold %.4f at calibration FRR %.3f",
        len(y),
        int(y.sum()),
        bundle.threshold,
        cfg.target_frr,
    )
    return bundle, forest


def train_phase_b(p: Params, table: pd.DataFrame) -> tuple[ModelBundle, ModelVersion, RandomForestClassifier]:
    """Fits Phase B's forest, logs it and registers it as ``challenger``."""
    cfg = p.train_phase_b
    names = model_features(cfg)
    x, y = training_rows(table, names)
    x_calib = calibration_humans(table, names)
    registry.configure(p)
    experiment_id = registry.ensure_experiment(cfg.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="phase-b-random-forest"):
        bundle, forest = fit_random_forest(x, y, x_calib, names, cfg, p.sampling.grid_ms, p.base.seed)
        calib_pass = float(np.mean(bundle.scores(x_calib) >= bundle.threshold))
        train_block = float(np.mean(bundle.scores(x[y == BOT]) < bundle.threshold))
        version = log_bundle(
            bundle,
            cfg.model_name,
            run_params={
                **cfg.model_dump(mode="json"),
                "grid_ms": p.sampling.grid_ms,
                "n_train": len(y),
                "n_train_bots": int(y.sum()),
                "n_features": len(names),
            },
            run_metrics={
                "calib_human_pass_rate": calib_pass,
                "train_bot_block_rate": train_block,
                "threshold": bundle.threshold,
            },
            input_example=x,
        )
    bundle.meta.update({"model_name": cfg.model_name, "version": str(version.version)})
    return bundle, version, forest
