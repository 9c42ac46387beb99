"""Training the behaviour models and logging them to MLflow as bundles.

Phase A's model is one-class: an Isolation Forest that only ever sees human movement (bots are for
evaluation). Its threshold is set on *calibration* users (never on the users it was fitted on) at the human
false-reject rate ``target_frr``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest

from tcurity import registry
from tcurity.config import Params
from tcurity.features.phase_a import FEATURE_NAMES as PHASE_A_FEATURES
from tcurity.scoring import BundlePyfunc, ModelBundle, QuantileNormal, flatten_isolation_forest

logger = logging.getLogger(__name__)

# What a serving environment needs to load a bundle pyfunc (the scorer is numpy only).
BUNDLE_PIP_REQUIREMENTS = ["numpy", "pandas", "mlflow"]


def reference_ranges(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The human 0.5 % and 99.5 % quantiles of each feature (reason codes name features outside them)."""
    return np.quantile(x, 0.005, axis=0), np.quantile(x, 0.995, axis=0)


def fit_isolation_forest(
    x_train: NDArray[np.float64],
    x_calib: NDArray[np.float64],
    feature_names: list[str],
    n_estimators: int,
    max_samples: int,
    max_features: float,
    target_frr: float,
    grid_ms: float,
    seed: int,
) -> tuple[ModelBundle, IsolationForest]:
    """Fits the quantile transform and the Isolation Forest on human training rows; sets the threshold on
    calibration rows.

    Returns:
        The bundle serving will use and the sklearn model it was flattened from.
    """
    transform = QuantileNormal.fit(x_train)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=min(max_samples, len(x_train)),
        max_features=max_features,
        random_state=seed,
        n_jobs=1,
    ).fit(transform.apply(x_train))
    low, high = reference_ranges(x_train)
    bundle = ModelBundle(
        kind="isolation_forest",
        feature_names=list(feature_names),
        forest=flatten_isolation_forest(forest),
        threshold=0.0,
        transform=transform,
        reference_low=low,
        reference_high=high,
        grid_ms=grid_ms,
        max_samples=int(forest.max_samples_),
    )
    bundle.threshold = float(np.quantile(bundle.scores(x_calib), target_frr))
    logger.info(
        "fitted isolation forest on %d human rows; threshold %.4f at calibration FRR %.3f",
        len(x_train),
        bundle.threshold,
        target_frr,
    )
    return bundle, forest


def log_bundle(
    bundle: ModelBundle,
    model_name: str,
    run_params: Mapping[str, Any],
    run_metrics: Mapping[str, float],
    input_example: NDArray[np.float64],
) -> ModelVersion:
    """Logs the bundle as a pyfunc in the active run and registers it as the model's ``challenger``."""
    mlflow.log_params(dict(run_params))
    mlflow.log_metrics(dict(run_metrics))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bundle"
        bundle.save(directory)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=BundlePyfunc(),
            artifacts={"bundle": str(directory)},
            input_example=pd.DataFrame(input_example[:2], columns=bundle.feature_names),
            pip_requirements=BUNDLE_PIP_REQUIREMENTS,
            metadata={
                "kind": bundle.kind,
                "threshold": bundle.threshold,
                "feature_names": bundle.feature_names,
            },
        )
    tags = {"kind": bundle.kind, "threshold": f"{bundle.threshold:.6f}", "grid_ms": f"{bundle.grid_ms}"}
    return registry.register_challenger(info.model_uri, model_name, tags)


def human_rows(table: pd.DataFrame, split: str, feature_names: list[str]) -> NDArray[np.float64]:
    """Feature rows of the human traces of one split that passed the geometry check (as live traffic would)."""
    rows = table[(table.source == "human") & (table.split == split) & table.geometry_passed]
    return rows[feature_names].to_numpy(np.float64)


def train_phase_a(p: Params, table: pd.DataFrame) -> tuple[ModelBundle, ModelVersion]:
    """Fits Phase A's Isolation Forest on the training users, logs it and registers it as ``challenger``."""
    cfg = p.train_phase_a
    names = list(cfg.features)
    unknown = set(names) - set(PHASE_A_FEATURES)
    if unknown:
        raise ValueError(f"train_phase_a.features names unknown features: {sorted(unknown)}")
    x_train, x_calib = human_rows(table, "train", names), human_rows(table, "calib", names)
    registry.configure(p)
    experiment_id = registry.ensure_experiment(cfg.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="phase-a-iforest"):
        bundle, _ = fit_isolation_forest(
            x_train,
            x_calib,
            names,
            n_estimators=cfg.n_estimators,
            max_samples=cfg.max_samples,
            max_features=cfg.max_features,
            target_frr=cfg.target_frr,
            grid_ms=p.sampling.grid_ms,
            seed=p.base.seed,
        )
        calib_pass = float(np.mean(bundle.scores(x_calib) >= bundle.threshold))
        version = log_bundle(
            bundle,
            cfg.model_name,
            run_params={
                **cfg.model_dump(mode="json"),
                "grid_ms": p.sampling.grid_ms,
                "n_train": len(x_train),
            },
            run_metrics={"calib_human_pass_rate": calib_pass, "threshold": bundle.threshold},
            input_example=x_train,
        )
    bundle.meta.update({"model_name": cfg.model_name, "version": version.version})
    return bundle, version


def save_local(bundle: ModelBundle, version: ModelVersion, directory: Path) -> None:
    """Writes the trained bundle and the registered version it became (the stage's DVC outputs)."""
    bundle.save(directory / "bundle")
    payload = {"name": version.name, "version": str(version.version), "run_id": version.run_id}
    (directory / "registered.json").write_text(json.dumps(payload, indent=2))
